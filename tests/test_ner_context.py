"""NER with document context: neighbouring sentences as template variables (tiny models)."""

from __future__ import annotations

import pytest

import ptrun
from conftest import read_rows, write

DOCS = """-DOCSTART- -X- O O

EU B-ORG
rejects O
German B-MISC
call O

Peter B-PER
Blackburn I-PER

BRUSSELS B-LOC
1996-08-22 O

-DOCSTART- -X- O O

Rain O
in O
Oslo B-LOC
"""


def _task():
    from ptrun import registry

    return registry.get_task("ner")


def _encode(tiny_encoder, path, max_length, template="ner/document"):
    from transformers import AutoTokenizer

    from ptrun.prompts.render import Renderer
    from ptrun.prompts.templates import load_prompt

    task = _task()
    examples = task.read(path)
    label_map = task.label_map(sorted({t for ex in examples for t in ex.fields["tags"]}), None)
    renderer = Renderer(task, load_prompt(template, []), label_map)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_encoder))
    features = task.encode(examples, renderer.render_all(examples), tokenizer, label_map, max_length)
    return examples, features, tokenizer, label_map


def test_neighbours_stay_inside_their_document(tmp_path):
    examples = _task().read(write(tmp_path / "docs.txt", DOCS))
    assert [ex.fields["tokens"][0] for ex in examples] == ["EU", "Peter", "BRUSSELS", "Rain"]
    assert [ex.fields["prev_tokens"] for ex in examples] == [[], ["EU", "rejects", "German", "call"], ["Peter", "Blackburn"], []]
    assert [ex.fields["next_tokens"] for ex in examples] == [["Peter", "Blackburn"], ["BRUSSELS", "1996-08-22"], [], []]
    plain = _task().read(write(tmp_path / "plain.txt", DOCS.replace("-DOCSTART- -X- O O\n", "")))
    assert plain[3].fields["prev_tokens"] == ["BRUSSELS", "1996-08-22"]  # no -DOCSTART-: one document


def test_render_shows_the_neighbours(cli, tmp_path):
    result = cli("render", "ner", "-t", "ner/document", "--data", write(tmp_path / "train.txt", DOCS), "-n", 4)
    assert result.exit_code == 0, result.output
    assert "EU rejects German call [SEP] Peter Blackburn [SEP] BRUSSELS 1996-08-22" in result.output
    assert "Rain in Oslo\n" in result.output  # alone in its document: no separators


def test_only_the_sentence_carries_tags(tiny_encoder, tmp_path):
    examples, features, tokenizer, label_map = _encode(tiny_encoder, write(tmp_path / "d.txt", DOCS), 128)
    ex, f = examples[1], features[1]  # "Peter Blackburn" between two sentences
    words = tokenizer.convert_ids_to_tokens(f["input_ids"])
    assert words[0] == "[CLS]" and words.count("[SEP]") == 3
    tagged = [i for i, label in enumerate(f["labels"]) if label != -100]
    assert tagged == f["word_starts"] and [words[i] for i in tagged] == ["peter", "blackburn"]
    assert [label_map.labels[f["labels"][i]] for i in tagged] == ex.fields["tags"]
    assert words.index("peter") > words.index("call")  # after the previous sentence


def test_neighbours_are_trimmed_from_their_far_ends(tiny_encoder, tmp_path):
    long_prev = "\n".join(f"w{i} O" for i in range(40))
    long_next = "\n".join(f"v{i} O" for i in range(40))
    data = write(tmp_path / "long.txt", f"{long_prev}\n\nAnna B-PER\nsings O\n\n{long_next}\n")
    _examples, features, tokenizer, _ = _encode(tiny_encoder, data, 40)
    f = features[1]
    words = tokenizer.convert_ids_to_tokens(f["input_ids"])
    assert len(f["input_ids"]) <= 40
    text = tokenizer.convert_tokens_to_string(words)
    assert "anna sings" in text
    assert "w39" in text.replace(" ", "") and "w0 " not in text  # the previous sentence keeps its end
    assert "v0" in text.replace(" ", "") and "v39" not in text.replace(" ", "")  # the next one keeps its start
    assert all(p >= 0 for p in f["word_starts"])  # the sentence itself is never cut
    # A budget too small for any context leaves the sentence alone.
    _examples, tight, tokenizer, _ = _encode(tiny_encoder, data, 6)
    assert len(tight[1]["input_ids"]) <= 6
    assert [w for w in tokenizer.convert_ids_to_tokens(tight[1]["input_ids"]) if w not in ("[CLS]", "[SEP]")] == ["anna", "sings"]


def test_template_may_show_a_neighbour_only_once(tmp_path):
    from ptrun.prompts.templates import load_prompt
    from ptrun.prompts.render import check_prompt_for_task

    bad = write(tmp_path / "ner" / "twice.j2", "{#-\nmodel_kinds: [encoder]\n-#}\n{{ prev_text }} {{ sentence }} {{ prev_text }}")
    with pytest.raises(ptrun.TemplateError, match="prev_text .* at most once"):
        check_prompt_for_task(load_prompt(str(bad), []), _task())


def test_run_with_document_context_and_reload(cli, tiny_encoder, tmp_path):
    data = write(tmp_path / "train.txt", DOCS * 3)
    out = tmp_path / "run"
    result = cli("ner", "--model", tiny_encoder, "--train", data, "--test", data, "-t", "ner/document",
                 "--epochs", 1, "--batch-size", 4, "--output-dir", out)
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert all(len(r["prediction"]) == len(r["tokens"]) for r in rows)
    p = ptrun.load(str(out))
    second = rows[1]  # "Peter Blackburn", between "EU rejects ..." and "BRUSSELS ..."
    given = {"tokens": second["tokens"], "prev_tokens": ["EU", "rejects", "German", "call"],
             "next_tokens": ["BRUSSELS", "1996-08-22"]}
    assert p.predict([given])[0]["prediction"] == second["prediction"]

"""Generative NER: a causal LM lists entities as `TYPE: text` lines, mapped back onto the tokens."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, SHARED, read_metrics, read_rows, write

from ptrun import Example, TemplateError
from ptrun.plugins.ner.conll import tag_label_map
from ptrun.plugins.ner import SENTENCE_MARK, TASK

LABELS = tag_label_map(["B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC"])


def _ex(text: str, tags: list[str] | None = None) -> Example:
    tokens = text.split()
    return Example("e", {"tokens": tokens, "tags": tags or []}, labeled=bool(tags))


def parse(sentence: str, generated: str):
    return TASK.parse_generation(_ex(sentence), generated, LABELS)


# --------------------------------------------------------------------------- parsing


def test_exact_and_case_insensitive_entities_become_iob2_tags():
    tags, notes = parse("Anna Berg lives in New York .", "PER: Anna Berg\nloc: new york")
    assert tags == ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"]
    assert notes["predicted_entities"] == 2 and notes["dropped"] == []
    # Exact beats case-insensitive: "Apple" is the second token, not the first.
    tags, _ = parse("apple pie from Apple", "ORG: Apple")
    assert tags == ["O", "O", "O", "B-ORG"]
    # Readable type names, bullets, quotes, a final period and glued clitics are understood.
    tags, notes = parse("Smith 's team beat Oslo .", "- person: \"Smith's\"\n2. Location: Oslo.")
    assert tags == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"] and notes["predicted_entities"] == 2


def test_repeated_entity_text_takes_the_next_unused_occurrence():
    tags, notes = parse("Tom met Tom and Tom", "PER: Tom\nPER: Tom\nPER: Tom\nPER: Tom")
    assert tags == ["B-PER", "O", "B-PER", "O", "B-PER"]
    assert notes["predicted_entities"] == 3 and notes["overlapping_entities"] == 1
    assert notes["dropped"] == [{"line": "PER: Tom", "reason": "its text is already tagged"}]
    # A longer entity listed after a shorter one still finds a free occurrence.
    tags, _ = parse("New York and New York City", "LOC: New York\nLOC: New York City")
    assert tags == ["B-LOC", "I-LOC", "O", "B-LOC", "I-LOC", "I-LOC"]


def test_invented_unknown_and_malformed_lines_are_dropped_and_counted():
    tags, notes = parse(
        "Anna lives in Oslo .",
        "PER: Anna\nLOC: Atlantis\nANIMAL: Oslo\nthe sentence is about Anna\nLOC:\n\nSentence: more text",
    )
    assert tags == ["B-PER", "O", "O", "O", "O"]
    assert (notes["invented_entities"], notes["unknown_types"], notes["malformed_lines"]) == (1, 1, 2)
    assert [d["reason"] for d in notes["dropped"]] == [
        "not in the sentence", "unknown type", "not TYPE: text", "not TYPE: text"
    ]
    assert notes["dropped"][0]["line"] == "LOC: Atlantis"
    # Several entities on one line: each part is placed or counted on its own.
    tags, notes = parse("Anna and Tom", "PER: Anna, Tom, Bob")
    assert tags == ["B-PER", "O", "B-PER"] and notes["invented_entities"] == 1


def test_none_and_empty_generations():
    tags, notes = parse("It rained .", "none")
    assert tags == ["O", "O", "O"] and notes["predicted_entities"] == 0 and notes["empty_generations"] == 0
    assert parse("It rained .", "PER: None.\nLOC: none")[1]["invented_entities"] == 0
    for empty in ("", " \n\n "):
        tags, notes = parse("It rained .", empty)
        assert tags == ["O", "O", "O"] and notes["empty_generations"] == 1
    # Metrics work on what parsing returns (a tag per token, never None).
    from ptrun.run.metrics import compute

    preds = [parse("Anna lives in Oslo .", g)[0] for g in ("PER: Anna\nLOC: Oslo", "")]
    refs = [["B-PER", "O", "O", "B-LOC", "O"]] * 2
    assert compute(TASK, preds, refs, LABELS)["f1"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------- templates


def test_generative_template_renders_gold_entities_as_the_target():
    from ptrun.prompts.templates import load_prompt
    from ptrun.prompts.render import check_prompt_for_task, render_all

    prompt = load_prompt("ner/generative")
    check_prompt_for_task(prompt, TASK)
    examples = [
        _ex("Anna Berg lives in Oslo .", ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
        _ex("It rained .", ["O", "O", "O"]),
        _ex("Tom left"),  # unlabelled: no target
    ]
    first, empty, unlabelled = render_all(TASK, prompt, examples, LABELS)
    assert first.target == "PER: Anna Berg\nLOC: Oslo"
    assert first.input.rstrip().endswith("Sentence: Anna Berg lives in Oslo .\nEntities:")
    assert "PER (person)" in first.input and SENTENCE_MARK not in first.input
    assert empty.target == "none" and unlabelled.target is None
    # What the model is trained on parses back to the gold tags.
    assert TASK.parse_generation(examples[0], first.target, LABELS)[0] == examples[0].fields["tags"]


def test_render_shows_demonstrations_and_templates_pass_check(cli):
    result = cli("render", "ner", "--template", "ner/generative", "--shots", "2", "-n", "1")
    assert result.exit_code == 0, result.output
    assert result.output.count("Sentence:") == 3 and result.output.count("Entities:") == 3
    assert "target:" in result.output
    result = cli("check", REPO / "templates" / "ner")
    assert result.exit_code == 0 and "0 error(s)" in result.output, result.output


def test_causal_templates_need_text_not_sentence(tmp_path):
    from ptrun.prompts.templates import load_prompt

    head = "{#-\nmodel_kinds: [causal-lm]\n-#}\n"
    ok = write(tmp_path / "ner" / "ok.j2", head + "Sentence: {{ text }}\n")
    TASK.check_prompt(load_prompt(str(ok)))
    with pytest.raises(TemplateError, match=r"\{\{ text \}\}"):
        TASK.check_prompt(load_prompt(str(write(tmp_path / "ner" / "mark.j2", head + "Sentence: {{ sentence }}\n"))))
    with pytest.raises(TemplateError, match="never shows the sentence"):
        TASK.check_prompt(load_prompt(str(write(tmp_path / "ner" / "blind.j2", head + "Entities:\n"))))
    # Encoder templates still need the sentence mark exactly once.
    with pytest.raises(TemplateError, match="found 0 times"):
        TASK.check_prompt(load_prompt(str(write(tmp_path / "ner" / "enc.j2", "{{ text }}\n"))))
    # A template for any model that shows a demonstration's sentence mark is caught too.
    both = write(tmp_path / "ner" / "both.j2", "{% for d in demos %}{{ d.sentence }}\n{% endfor %}{{ sentence }}\n")
    with pytest.raises(TemplateError, match="found 2 times.*d.text"):
        TASK.check_prompt(load_prompt(str(both)))


def test_encoder_style_template_reads_the_sentence_on_a_causal_lm():
    from ptrun.prompts.templates import Rendered

    messages = TASK.lm_messages(_ex("Anna lives here"), Rendered(f"Names in: {SENTENCE_MARK}", "PER: Anna"), chat=False)
    assert messages[0]["content"] == "Names in: Anna lives here" and messages[1]["content"] == "PER: Anna"


# --------------------------------------------------------------------------- runs


def _lm(tiny_llama, out, *extra):
    return ["--model", tiny_llama, "--batch-size", "4", "--output-dir", out, *extra]


def test_few_shot_and_fine_tuned_runs_write_seqeval_metrics_and_counts(cli, tiny_llama, ner_files, tmp_path):
    out = tmp_path / "few"
    result = cli("ner", "--train", ner_files["train"], "--test", ner_files["test"], "--eval-only", "--shots", "2",
                 "--limit-eval", "6", "--max-new-tokens", "8", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["template"] == "ner/generative" and config["inference"] == "generate"
    assert len(config["demonstrations"]) == 2
    test = read_metrics(out)["test"]
    rows = read_rows(out)
    assert {"f1", "precision", "recall", "per_type_report"} <= set(test) and test["shots"] == 2
    for key in ("predicted_entities", "invented_entities", "unknown_types", "malformed_lines", "empty_generations"):
        assert test[key] == sum(r[key] for r in rows)
    assert all(len(r["prediction"]) == len(r["tokens"]) and "generated" in r and "dropped" in r for r in rows)

    out = tmp_path / "tuned"
    result = cli("ner", "--train", ner_files["train"], "--test", ner_files["test"], "--epochs", "1",
                 "--limit-eval", "3", "--max-new-tokens", "8", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    metrics = read_metrics(out)
    assert metrics["train"]["steps"] == 3 and "f1" in metrics["test"] and "empty_generations" in metrics["test"]
    assert (out / "templates" / "ner" / "_entities.j2").is_file()  # the bundle holds the partial


def test_fine_tuning_learns_to_list_the_entities(cli, tiny_llama, ner_files, tmp_path):
    base = tmp_path / "base"
    args = ["--test", ner_files["test"], "--limit-eval", "3", "--template", "ner/generative-short", "--no-chat",
            "--max-new-tokens", "16"]
    assert cli("ner", *args, "--eval-only", *_lm(tiny_llama, base)).exit_code == 0
    out = tmp_path / "run"
    # Plain-text prompts without the instruction learn fastest in a 2-layer model. Batches must
    # mix the three sentences: grouped by length, each batch would hold copies of one sentence.
    result = cli("ner", "--train", ner_files["train"], *args, "--epochs", "40", "--lr", "3e-2",
                 "--no-group-by-length", *_lm(tiny_llama, out))
    assert result.exit_code == 0, result.output
    assert read_metrics(base)["test"]["f1"] == 0.0
    assert read_metrics(out)["test"]["f1"] >= 0.8, [r["generated"] for r in read_rows(out)]
    assert read_metrics(out)["test"]["invented_entities"] == 0
    # The run folder evaluates again with its own template and layout.
    again = tmp_path / "again"
    result = cli("ner", "--model", out, "--test", ner_files["test"], "--limit-eval", "3", "--eval-only",
                 "--max-new-tokens", "16", "--output-dir", again)
    assert result.exit_code == 0, result.output
    assert read_rows(again) == read_rows(out)


@pytest.mark.slow
def test_real_smollm2_zero_shot_on_conll_sentences(tmp_path):
    from conftest import run_ptrun

    conll = SHARED / "conll2003" / "test.txt"
    if not conll.is_file():
        pytest.skip(f"{conll} is not available")
    out = tmp_path / "zero"
    proc = run_ptrun("ner", "--model", "smollm2", "--test", conll, "--limit-eval", "4", "--eval-only",
                     "--batch-size", "4", "--output-dir", out)
    assert proc.returncode == 0, proc.stderr
    test = read_metrics(out)["test"]
    rows = read_rows(out)
    assert len(rows) == 4 and all(r["generated"] is not None for r in rows)
    assert 0.0 <= test["f1"] <= 1.0
    for key in ("predicted_entities", "invented_entities", "unknown_types", "malformed_lines", "empty_generations"):
        assert test[key] == sum(r[key] for r in rows)

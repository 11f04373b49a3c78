"""The built-in QA task: SQuAD/JSONL reading, SQuAD metrics, sliding windows, extractive runs."""

from __future__ import annotations

import json

import pytest

from ptrun import DataError, registry
from ptrun import Example
from ptrun import LabelMap
from ptrun.plugins.qa import UNANSWERABLE, best_answer, span_positions
from ptrun.plugins.qa.metrics import exact_match, normalize_answer, squad_scores, token_f1
from conftest import minilm_dir, run_ptrun, write

CONTEXT = "Acme Tools was founded in 1901 by Anna Berg in the town of Brackenford."


def squad(*questions, context=CONTEXT, title="Acme Tools") -> dict:
    return {"version": "1.1", "data": [{"title": title, "paragraphs": [{"context": context, "qas": list(questions)}]}]}


def qa(qid, question, text, start):
    return {"id": qid, "question": question, "answers": [{"text": text, "answer_start": start}]}


@pytest.fixture(scope="module")
def task():
    return registry.get_task("qa")


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_dir()))


# --------------------------------------------------------------------------- reading


def test_reads_squad_json_with_question_ids_and_lines(task, tmp_path):
    data = squad(qa("q1", "Who founded Acme Tools?", "Anna Berg", 34), qa("q2", "When?", "1901", 26))
    path = write(tmp_path / "dev.json", json.dumps(data, indent=2))
    examples = task.read(path)
    assert [ex.id for ex in examples] == ["q1", "q2"]
    lines = path.read_text().splitlines()
    assert '"id": "q1"' in lines[examples[0].line - 1] and '"id": "q2"' in lines[examples[1].line - 1]
    ctx = task.context(examples[0], None)
    assert ctx == {"question": "Who founded Acme Tools?", "context": CONTEXT, "title": "Acme Tools",
                   "answer": "Anna Berg", "answers": ["Anna Berg"]}
    assert task.reference(examples[1]) == ["1901"]
    # --format squad reads the same layout from any file name.
    other = write(tmp_path / "dev.data", path.read_text())
    assert [ex.id for ex in task.read(other, "squad")] == ["q1", "q2"]


def test_reads_jsonl_with_both_answer_layouts(task, tmp_path):
    rows = [
        {"id": "a", "context": CONTEXT, "question": "Who?", "answers": [{"text": "Anna Berg", "answer_start": 34}]},
        {"id": "b", "context": CONTEXT, "question": "When?", "title": "Acme",
         "answers": {"text": ["1901", "in 1901"], "answer_start": [26, 23]}},
    ]
    path = write(tmp_path / "train.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    a, b = task.read(path)
    assert (a.id, a.line, a.fields["answers"], a.fields["title"]) == ("a", 1, ["Anna Berg"], "")
    assert (b.id, b.line, b.fields["answers"], b.fields["answer_starts"]) == ("b", 2, ["1901", "in 1901"], [26, 23])
    assert task.context(b, None)["answers"] == ["1901", "in 1901"]


def test_flat_json_list_and_unlabelled_predict_file(task, tmp_path):
    rows = [{"id": "x", "context": CONTEXT, "question": "Who?", "answers": [{"text": "Anna Berg", "answer_start": 34}]}]
    assert [ex.id for ex in task.read(write(tmp_path / "flat.json", json.dumps(rows)))] == ["x"]
    path = write(tmp_path / "new.jsonl", json.dumps({"context": CONTEXT, "question": "Who?"}) + "\n")
    (ex,) = task.read(path, labeled=False)
    assert ex.id == "new-1" and not ex.labeled and task.context(ex, None)["answer"] == ""


def test_squad_2_unanswerable_questions(task, tmp_path, tokenizer):
    data = squad(qa("q1", "Who founded Acme Tools?", "Anna Berg", 34),
                 {"id": "q2", "question": "Who sold Acme Tools?", "answers": [], "is_impossible": True})
    a, b = task.read(write(tmp_path / "dev.json", json.dumps(data, indent=1)))
    assert task.labels_of(a) == ["answerable"] and task.labels_of(b) == [UNANSWERABLE]
    assert task.reference(b) == [] and b.labeled
    features = task.encode([a, b], [None, None], tokenizer, None, 64)
    assert (features[0]["start_positions"], features[1]["start_positions"]) != (0, 0)
    assert (features[1]["start_positions"], features[1]["end_positions"]) == (0, 0)
    # An unanswerable gold answer is matched only by the empty prediction.
    assert squad_scores(["", "Anna"], [[], []]) == {"exact_match": 0.5, "f1": 0.5}


BAD_INPUTS = {
    "offset mismatch": (
        "dev.json",
        json.dumps(squad(qa("q1", "Who?", "Anna Berg", 30)), indent=2),
        ["question 'q1'", "answer_start 30", "offset(s) 34"],
    ),
    "text not in context": (
        "dev.json",
        json.dumps(squad(qa("q7", "Who?", "Bob Stone", 30)), indent=2),
        ["question 'q7'", "does not occur in the context"],
    ),
    "missing question": (
        "dev.jsonl",
        json.dumps({"id": "q3", "context": CONTEXT, "answers": []}) + "\n",
        ["question 'q3'", 'missing "question"'],
    ),
    "missing answers": (
        "dev.jsonl",
        json.dumps({"id": "q4", "context": CONTEXT, "question": "Who?"}) + "\n",
        ["question 'q4'", 'missing "answers"', "--predict"],
    ),
    "answer without offset": (
        "dev.jsonl",
        json.dumps({"id": "q5", "context": CONTEXT, "question": "Who?", "answers": [{"text": "Anna Berg"}]}) + "\n",
        ["question 'q5'", '"answer_start"'],
    ),
    "malformed JSON line": (
        "dev.jsonl",
        json.dumps({"id": "ok", "context": CONTEXT, "question": "Who?", "answers": []}) + "\n{broken\n",
        ["invalid JSON"],
    ),
    "malformed JSON file": ("dev.json", '{"data": [\n  {"title": "x",\n}', ["invalid JSON"]),
    "paragraph without context": (
        "dev.json",
        json.dumps({"data": [{"title": "T", "paragraphs": [{"qas": [qa("q6", "Who?", "x", 0)]}]}]}, indent=2),
        ["article 1 ('T'), paragraph 1", '"context"'],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_names_file_line_and_question(task, tmp_path, case):
    name, text, phrases = BAD_INPUTS[case]
    path = write(tmp_path / name, text)
    with pytest.raises(DataError) as info:
        task.read(path)
    message = str(info.value)
    lines = text.splitlines()
    # The line reported is where the offending question (or JSON error) is.
    assert message.startswith(f"{path}:{info.value.line}: ") and 1 <= info.value.line <= len(lines), message
    for phrase in phrases:
        assert phrase in message, message
    qid = next((p.split("'")[1] for p in phrases if p.startswith("question '")), None)
    if qid and name.endswith(".json"):
        assert f'"id": "{qid}"' in lines[info.value.line - 1]


def test_bad_data_on_the_command_line_is_one_paragraph(cli, tiny_encoder, tmp_path):
    bad = write(tmp_path / "train.json", json.dumps(squad(qa("q9", "Who?", "Anna Berg", 3)), indent=2))
    result = cli("qa", "--train", bad, "--model", tiny_encoder, "--output-dir", tmp_path / "run")
    assert result.exit_code == 1
    assert f"{bad}:" in result.output and "question 'q9'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- metrics


def test_squad_normalisation_and_scores():
    assert normalize_answer("  The  Old, OAK tree! ") == "old oak tree"
    assert normalize_answer("An apple a day") == "apple day"
    assert exact_match("the Oak Tree.", "oak tree") == 1.0
    assert exact_match("oak", "oak tree") == 0.0
    # Partial overlap: gold normalises to "big old oak by river"; 2 shared tokens of 3 predicted
    # and 5 gold -> P 2/3, R 2/5, F1 1/2.
    assert token_f1("old oak tree", "the big old oak by the river") == pytest.approx(0.5)
    assert token_f1("old oak tree", "old oak tree by river") == pytest.approx(2 * 1 * 0.6 / 1.6)
    assert token_f1("oak", "pine") == 0.0
    # The best of several gold answers counts.
    scores = squad_scores(["in 1901", "Berg"], [["1901", "in 1901"], ["Anna Berg", "Berg, Anna"]])
    assert scores["exact_match"] == 0.5
    assert scores["f1"] == pytest.approx((1.0 + max(2 * 1 * 0.5 / 1.5, 2 * 1 * 0.5 / 1.5)) / 2)


# --------------------------------------------------------------------------- sliding window

FILLER = "The weather in the valley was mild and nothing much happened that year. "
LONG_CONTEXT = FILLER * 12 + "The treasure is buried under the old oak tree near the mill. " + FILLER * 3


def test_long_context_is_split_into_windows_that_locate_the_answer(task, tokenizer):
    start = LONG_CONTEXT.index("the old oak tree")
    ex = Example("long", {"context": LONG_CONTEXT, "question": "Where is the treasure?", "title": "",
                          "answers": ["the old oak tree"], "answer_starts": [start], "unanswerable": False})
    features = task.encode([ex], [None], tokenizer, None, 64)
    assert len(features) > 4 and all(f["example_index"] == 0 for f in features)
    hits = [f for f in features if f["start_positions"] != 0]
    assert hits and features[0]["start_positions"] == 0  # the answer is only in a later window
    for f in hits:
        s, e = f["start_positions"], f["end_positions"]
        assert tokenizer.decode(f["input_ids"][s : e + 1]) == "the old oak tree"
        assert LONG_CONTEXT[f["offset_mapping"][s][0] : f["offset_mapping"][e][1]] == "the old oak tree"
    # Only context tokens carry offsets; consecutive windows overlap (the stride).
    spans = [[o for o in f["offset_mapping"] if o is not None] for f in features]
    assert features[0]["offset_mapping"][0] is None and len(spans[0]) < len(features[0]["input_ids"])
    assert spans[1][0][0] < spans[0][-1][0]
    # The collator keeps only what the model reads, padded.
    batch = task.collator(tokenizer)(features[:2])
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions"}

    # Hand-set logits: the labelled span scores highest in its window; a higher score on the
    # question tokens of another window must be ignored (not context).
    windows = []
    for f in features:
        n = len(f["input_ids"])
        starts, ends = [0.0] * n, [0.0] * n
        if f["start_positions"]:
            starts[f["start_positions"]], ends[f["end_positions"]] = 5.0, 5.0
        else:
            starts[2], ends[3] = 9.0, 9.0
        windows.append((starts, ends, f["offset_mapping"]))
    assert best_answer(LONG_CONTEXT, windows) == "the old oak tree"


def test_best_answer_rules():
    context = "alpha beta gamma delta"
    offsets = [None, (0, 5), (6, 10), (11, 16), (17, 22), None]
    # end before start is not a span; the best valid pair wins.
    assert best_answer(context, [([0, 1, 9, 0, 0, 0], [0, 8, 0, 0, 2, 0], offsets)]) == "beta gamma delta"
    # too long spans are dropped
    assert best_answer(context, [([0, 9, 0, 0, 0, 0], [0, 0, 0, 0, 9, 0], offsets)], max_answer_tokens=2) != "alpha beta gamma delta"
    # [CLS] wins only when null answers are allowed
    cls = ([20, 1, 0, 0, 0, 0], [20, 1, 0, 0, 0, 0], offsets)
    assert best_answer(context, [cls]) == "alpha"
    assert best_answer(context, [cls], allow_null=True) == ""
    assert span_positions(offsets, 6, 16) == (2, 3) and span_positions(offsets, 6, 30) == (0, 0)


def test_predict_aggregates_windows_and_maps_offsets_back(task, tokenizer):
    """A stub span head that points at 'old' and 'tree': the answer comes back from the right window."""
    import torch
    from types import SimpleNamespace

    old, tree = tokenizer.convert_tokens_to_ids(["old", "tree"])

    class Pointer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            context = (token_type_ids == 1).float()
            return SimpleNamespace(start_logits=(input_ids == old).float() * 5 * context,
                                   end_logits=(input_ids == tree).float() * 5 * context)

    ex = Example("long", {"context": LONG_CONTEXT, "question": "Where is the treasure?", "title": "",
                          "answers": [], "answer_starts": [], "unanswerable": False}, labeled=False)
    short = Example("short", {"context": "An old pine and a tall tree.", "question": "Which?", "title": "",
                              "answers": [], "answer_starts": [], "unanswerable": False}, labeled=False)
    features = task.encode([ex, short], [None, None], tokenizer, None, 64)
    assert "start_positions" not in features[0]
    preds = task.predict(Pointer(), tokenizer, [ex, short], features, LabelMap([], kind="spans"), batch_size=3)
    assert preds == ["old oak tree", "old pine and a tall tree"]


# --------------------------------------------------------------------------- runs


def _run(tiny_encoder, out, *extra):
    return ["qa", "--model", tiny_encoder, "--epochs", "1", "--batch-size", "4", "--limit-train", "12",
            "--limit-eval", "6", "--max-length", "48", "--output-dir", out, *extra]


def test_demo_run_writes_metrics_and_predictions_and_round_trips(cli, tiny_encoder, tmp_path):
    out = tmp_path / "run"
    result = cli(*_run(tiny_encoder, out))
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    for split in ("validation", "test"):
        assert set(metrics[split]) == {"exact_match", "f1"} and 0 <= metrics[split]["f1"] <= 1
    # --max-length 48 cuts the demo paragraphs into several windows each.
    assert metrics["train"]["train_sentences"] > 12
    rows = [json.loads(line) for line in (out / "predictions/test.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"test-{i:04d}" for i in range(1, 7)]
    assert set(rows[0]) == {"id", "question", "prediction", "reference"} and isinstance(rows[0]["reference"], list)
    config = json.loads((out / "config.json").read_text())
    assert config["template"] == "qa/extractive" and (out / "templates/qa/extractive.j2").is_file()
    assert "exact_match" in result.output

    again = tmp_path / "again"
    proc = run_ptrun("qa", "--model", out, "--eval-only", "--limit-eval", "6", "--max-length", "48",
                     "--output-dir", again)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((again / "metrics.json").read_text())["test"] == metrics["test"]
    assert (again / "predictions/test.jsonl").read_text() == (out / "predictions/test.jsonl").read_text()


def test_template_none_and_predict_file(cli, tiny_encoder, tmp_path):
    unlabeled = write(tmp_path / "new.jsonl", json.dumps({"id": "u1", "context": CONTEXT, "question": "Who?"}) + "\n")
    out = tmp_path / "run"
    result = cli(*_run(tiny_encoder, out, "--template", "none", "--predict", unlabeled,
                       "--data", registry.get_task("qa").demo_data()))
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in (out / "predictions/predict.jsonl").read_text().splitlines()]
    assert row["id"] == "u1" and "reference" not in row and row["prediction"] in CONTEXT
    assert json.loads((out / "config.json").read_text())["template"] is None


def test_templates_that_show_the_context_are_rejected_for_encoders(cli, tiny_encoder, tmp_path):
    tpl = write(tmp_path / "ctx.j2", "{{ question }} {{ context }}")
    result = cli(*_run(tiny_encoder, tmp_path / "run", "--template", tpl))
    assert result.exit_code == 1 and "must not output {{ context }}" in result.output
    from ptrun.prompts.templates import load_prompt

    check = cli("check", load_prompt("qa/extractive").path)
    assert check.exit_code == 0 and "0 error(s)" in check.output, check.output


def test_lora_trains_the_span_head_and_soft_prompts_are_refused(cli, tiny_encoder, tmp_path):
    out = tmp_path / "lora"
    result = cli(*_run(tiny_encoder, out, "--method", "lora"))
    assert result.exit_code == 0, result.output
    assert (out / "model/adapter_config.json").is_file()
    again = cli("qa", "--model", out, "--eval-only", "--limit-eval", "6", "--max-length", "48",
                "--output-dir", tmp_path / "again")
    assert again.exit_code == 0, again.output
    first = json.loads((out / "metrics.json").read_text())["test"]
    assert json.loads((tmp_path / "again/metrics.json").read_text())["test"] == first
    result = cli(*_run(tiny_encoder, tmp_path / "pt", "--method", "prompt-tuning"))
    assert result.exit_code == 1 and "--method prompt-tuning: task 'qa' cannot use prompt-tuning" in result.output
    # Refused up front: nothing was trained and no run folder was written.
    assert not (tmp_path / "pt").exists()


@pytest.mark.slow
def test_real_minilm_learns_the_qa_demo(tmp_path):
    """`ptrun qa` with no data options: the real MiniLM on the shipped demo data, default settings."""
    base = run_ptrun("qa", "--eval-only", "--output-dir", tmp_path / "base")
    assert base.returncode == 0, base.stderr
    trained = run_ptrun("qa", "--output-dir", tmp_path / "trained")
    assert trained.returncode == 0, trained.stderr
    f1_base = json.loads((tmp_path / "base/metrics.json").read_text())["test"]["f1"]
    f1_trained = json.loads((tmp_path / "trained/metrics.json").read_text())["test"]["f1"]
    assert f1_trained > f1_base + 0.5

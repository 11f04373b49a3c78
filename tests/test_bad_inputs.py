"""A corpus of malformed and hostile inputs: each case, its expected error class (or HTTP status)
and what its message must name (the file:line, field or option), as one parametrised test.

CLI cases run in-process through ``ptrun.cli``'s click group (``standalone_mode=False``); the
error class is the one ptrun raised (the CLI turns it into one paragraph). HTTP cases call the
``ptrun serve`` app through FastAPI's TestClient."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from ptrun import DataError, PtrunError, TemplateError

TRAIN = "text\tlabel\nfine film\tpositive\nbad film\tnegative\n"


def _w(tmp: Path, name: str, content) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _run_dir(tmp: Path, name: str, status: str, checkpoint: bool) -> Path:
    out = tmp / name
    _w(out, "config.json", json.dumps({"ptrun_version": "0.1.0", "status": status, "config": {}}))
    (out / "model").mkdir()
    if checkpoint:
        (out / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    return out


# Each case: (id, build(tmp, model) -> argv, expected class, [texts the message must contain]).
# ``{tmp}`` in an expected text is the case's folder.
S = ["sentiment", "--model"]
CLI_CASES = [
    # readers: encodings, binary, structure
    ("latin1-tsv", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.tsv", "text\tlabel\ncaf\xe9\tpositive\n".encode("latin-1"))],
     DataError, ["{tmp}/t.tsv:2: the file is not UTF-8", "byte offset 14", "iconv -f latin1"]),
    ("binary-jsonl", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.jsonl", b"\x7fELF\x02\x01\x00\x00")],
     DataError, ["{tmp}/t.jsonl:1: this is a binary file", "byte offset 6"]),
    ("utf16-no-bom", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.tsv", TRAIN.encode("utf-16-le"))],
     DataError, ["{tmp}/t.tsv:1: this is a binary file", "byte-order mark"]),
    ("long-line", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.tsv", "text\tlabel\n" + "x" * 1_100_000 + "\tpositive\n")],
     DataError, ["{tmp}/t.tsv:2: the line is longer than 1,048,576 bytes"]),
    ("tsv-missing-column", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.tsv", "text\tlabel\nfine\n")],
     DataError, ["{tmp}/t.tsv:2: expected 2 columns (text, label) but found 1"]),
    ("csv-stray-newline", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.csv", 'text,label\n"a"b\r"c,positive\n')],
     DataError, ["{tmp}/t.csv:2: this line cannot be read as CSV"]),
    ("jsonl-bad-json", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.jsonl", '{"text": "ok", "label": "positive"}\n{"text": \n')],
     DataError, ["{tmp}/t.jsonl:2: invalid JSON"]),
    ("jsonl-huge-integer", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.jsonl", '{"text": "a", "label": ' + "9" * 5000 + "}\n")],
     DataError, ["{tmp}/t.jsonl:1: invalid JSON (Exceeds the limit"]),
    ("jsonl-deep-nesting", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.jsonl", "[" * 100_000 + "\n")],
     DataError, ["{tmp}/t.jsonl:1: invalid JSON (nested too deeply)"]),
    ("jsonl-not-an-object", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.jsonl", "[1, 2]\n")],
     DataError, ["{tmp}/t.jsonl:1: expected a JSON object, found list"]),
    ("json-not-a-list", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.json", '{"rows": 3}')],
     DataError, ["{tmp}/t.json: expected a list of objects"]),
    ("null-text", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.jsonl", '{"text": null, "label": "positive"}\n')],
     DataError, ["{tmp}/t.jsonl:1: the text is null (field 'text')"]),
    ("empty-text", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.tsv", "text\tlabel\n \tpositive\n")],
     DataError, ["{tmp}/t.tsv:2: the text is empty (field 'text')"]),
    ("misnamed-field", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.jsonl", '{"txt": "a", "label": "positive"}\n')],
     DataError, ["{tmp}/t.jsonl:1: missing text", "fields present: label, txt"]),
    ("unseen-label-fresh-run", lambda t, m: [*S, m, "--epochs", 1, "--train", _w(t, "tr.tsv", TRAIN), "--validation",
                                             _w(t, "dev.tsv", "text\tlabel\nok\tneutral\n")],
     DataError, ["{tmp}/dev.tsv:2: label 'neutral' is not in the label map (negative, positive)", "train on data that contains it."]),
    ("empty-file", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.tsv", "")],
     DataError, ["{tmp}/t.tsv:1: the file is empty; expected a header line"]),
    ("unknown-extension", lambda t, m: [*S, m, "--eval-only", "--test", _w(t, "t.xlsx", "x")],
     DataError, ["{tmp}/t.xlsx: cannot tell the format", "--format"]),
    ("conll-bad-tag", lambda t, m: ["ner", "--model", m, "--eval-only", "--test", _w(t, "t.txt", "Anna B-PER\nlives X-Y\n")],
     DataError, ["{tmp}/t.txt:2: 'X-Y' is not a BIO tag"]),
    ("squad-no-context", lambda t, m: ["qa", "--model", m, "--eval-only", "--test",
                                       _w(t, "t.json", '{"data": [{"title": "T", "paragraphs": [{"qas": [{"id": "q1"}]}]}]}')],
     DataError, ["{tmp}/t.json", 'paragraph 1 has no "context" string']),
    ("dailydialog-no-eou", lambda t, m: ["dialogue", "--model", m, "--eval-only", "--test", _w(t, "dialogues_test.txt", "hello there\n")],
     DataError, ["{tmp}/dialogues_test.txt:1: expected DailyDialog text"]),
    # templates
    ("template-syntax", lambda t, m: [*S, m, "--eval-only", "--template", _w(t, "bad.j2", "{{ text }\n")],
     TemplateError, ["{tmp}/bad.j2:1: template syntax error"]),
    ("template-latin1", lambda t, m: [*S, m, "--eval-only", "--template", _w(t, "l1.j2", "{{ text }} caf\xe9\n".encode("latin-1"))],
     TemplateError, ["{tmp}/l1.j2:1: the file is not UTF-8", "byte offset 14"]),
    ("template-huge-padding", lambda t, m: [*S, m, "--eval-only", "--limit-eval", 1, "--template",
                                            _w(t, "pad.j2", "{{ '{:>999999999}'.format(text) }}\n")],
     TemplateError, ["{tmp}/pad.j2:1: ", "budget"]),
    ("template-unknown-variable", lambda t, m: [*S, m, "--eval-only", "--template", _w(t, "var.j2", "{{ text }} {{ nosuch }}\n")],
     TemplateError, ["{tmp}/var.j2:1", "nosuch"]),
    ("template-yaml-boolean-choices", lambda t, m: [*S, m, "--eval-only", "--template",
                                                    _w(t, "yn.j2", "{#-\nanswer_choices: [yes, no]\n-#}\n{{ text }}\n")],
     TemplateError, ["{tmp}/yn.j2:2: answer choice True is a bool to YAML", "Quote it"]),
    # options
    ("lr-nan", lambda t, m: [*S, m, "--lr", "nan", "-o", t / "out"], PtrunError, ["--lr nan: must be a finite number above 0"]),
    ("epochs-zero", lambda t, m: [*S, m, "--epochs", "0", "-o", t / "out"], PtrunError, ["--epochs 0.0", "--eval-only"]),
    ("max-length-over-positions", lambda t, m: [*S, m, "--max-length", "100000", "-o", t / "out"], PtrunError, ["more than the 128 positions"]),
    ("batch-size-zero", lambda t, m: [*S, m, "--batch-size", "0"], click.BadParameter, ["--batch-size", "0"]),
    ("unknown-method", lambda t, m: [*S, m, "--method", "magic"], click.BadParameter, ["--method", "magic"]),
    ("prefix-tuning-encoder", lambda t, m: [*S, m, "--method", "prefix-tuning", "-o", t / "out"], PtrunError,
     ["--method prefix-tuning: prefix tuning needs a model that takes past key values"]),
    ("prompt-tuning-ner", lambda t, m: ["ner", "--model", m, "--method", "prompt-tuning", "-o", t / "out"], PtrunError,
     ["--method prompt-tuning", "cannot label"]),
    ("lora-targets-no-such-module", lambda t, m: [*S, m, "--method", "lora", "--lora-targets", "nosuch", "-o", t / "out"], PtrunError,
     ["--lora-targets nosuch: the model has no module of that name"]),
    ("virtual-tokens-over-positions", lambda t, m: [*S, m, "--method", "prompt-tuning", "--num-virtual-tokens", 500, "-o", t / "out"],
     PtrunError, ["--num-virtual-tokens 500 are more than the 128 positions"]),
    ("setfit-eval-steps", lambda t, m: [*S, m, "--method", "setfit", "--eval-steps", 5, "-o", t / "out"], PtrunError,
     ["do not apply to --method setfit", "fitted after the contrastive stage"]),
    ("device-cuda-missing", lambda t, m: [*S, m, "--device", "cuda", "-o", t / "out"], PtrunError, ["--device cuda: no such device"]),
    ("output-dir-is-a-file", lambda t, m: [*S, m, "--eval-only", "-o", _w(t, "taken", "x")], PtrunError, ["{tmp}/taken is a file, not a folder"]),
    ("output-dir-not-empty", lambda t, m: [*S, m, "--eval-only", "-o", _w(t, "full/notes.txt", "x").parent], PtrunError,
     ["{tmp}/full already exists and is not empty", "--overwrite"]),
    ("interrupted-run-suggests-resume", lambda t, m: [*S, m, "-o", _run_dir(t, "stopped", "interrupted", True)], PtrunError,
     ["{tmp}/stopped holds an unfinished run (status interrupted) with a checkpoint", "--resume"]),
    ("resume-without-checkpoint", lambda t, m: [*S, m, "--resume", "-o", _run_dir(t, "nockpt", "interrupted", False)], PtrunError,
     ["--resume: {tmp}/nockpt holds no checkpoint"]),
    ("missing-data-file", lambda t, m: [*S, m, "--eval-only", "--test", t / "nope.tsv"], DataError, ["{tmp}/nope.tsv: no such data file"]),
]


def _invoke(argv):
    """(class of the error ptrun raised, its message), or (None, "") when the command succeeded."""
    from ptrun.cli import cli

    try:
        cli.main(args=[str(a) for a in argv], prog_name="ptrun", standalone_mode=False)
    except click.ClickException as exc:
        # The CLI re-raises ptrun's errors as a ClickException `from None`: the original is the context.
        original = exc.__context__ if isinstance(exc.__context__, PtrunError) else exc
        return type(original), exc.format_message()
    return None, ""


#: Cases of a task for causal LMs: they get the tiny Llama, the others the tiny encoder.
CAUSAL = {"dailydialog-no-eou"}


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_input(case, request, tmp_path):
    name, build, expected, texts = case
    model = request.getfixturevalue("tiny_llama" if name in CAUSAL else "tiny_encoder")
    error, message = _invoke(build(tmp_path, model))
    assert error is not None, "the command succeeded"
    assert issubclass(error, expected), (error, message)
    assert "Traceback" not in message and "Internal error" not in message
    for text in texts:
        assert text.format(tmp=tmp_path) in message, message
    assert "\n" not in message.strip() or expected is click.BadParameter  # one paragraph
    assert not (tmp_path / "out").exists()  # nothing written for a run that cannot start


# -- HTTP: the ``ptrun serve`` app ------------------------------------------------------------
KEY = "k"
AUTH = {"Authorization": f"Bearer {KEY}"}
GOOD = [{"text": "fine"}]
HTTP_CASES = [
    ("truncated-json", {"content": b'{"model": "m", "inputs": ['}, 400, None, "malformed JSON"),
    ("not-utf8-body", {"content": b"\xff\xfe\x00"}, 400, None, "not UTF-8"),
    ("body-over-limit", {"content": json.dumps({"model": "m", "inputs": [{"text": "x" * 1000}] * 1100})}, 413, None, ""),
    ("inputs-missing", {"json": {"model": "m"}}, 422, "inputs", ""),
    ("inputs-a-string", {"json": {"model": "m", "inputs": "fine"}}, 422, "inputs", ""),
    ("input-not-an-object", {"json": {"model": "m", "inputs": [{"text": "ok"}, 3]}}, 422, "inputs[1]", ""),
    ("unknown-parameter", {"json": {"model": "m", "inputs": GOOD, "temperature": 2}}, 422, "temperature", ""),
    ("model-not-a-string", {"json": {"model": 3, "inputs": GOOD}}, 422, "model", ""),
    ("unknown-model", {"json": {"model": "nope", "inputs": GOOD}}, 404, "model", ""),
    ("missing-text-field", {"json": {"model": "m", "inputs": [{"txt": "typo"}]}}, 422, "inputs[0].text", "fields present: txt"),
    ("null-text-field", {"json": {"model": "m", "inputs": [{"text": None}]}}, 422, "inputs[0].text", "null"),
    ("no-api-key", {"json": {"model": "m", "inputs": GOOD}, "headers": {}}, 401, None, "API key"),
    ("wrong-api-key", {"json": {"model": "m", "inputs": GOOD}, "headers": {"Authorization": "Bearer nope"}}, 401, None, "API key"),
]


@pytest.fixture(scope="module")
def client(tiny_encoder):
    import time

    from fastapi.testclient import TestClient

    from ptrun.deploy.served import ServedModel
    from ptrun.deploy.server import create_app

    model = ServedModel("m", str(tiny_encoder), "sentiment", None, "cpu", {},
                        {"max_batch_size": 8, "max_wait_ms": 5, "max_queue": 16})
    with TestClient(create_app([model], api_key=KEY)) as c:
        end = time.monotonic() + 300
        while c.get("/ready", headers=AUTH).status_code != 200:
            assert time.monotonic() < end and model.error is None, model.error
            time.sleep(0.1)
        yield c


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_bad_request(case, client):
    _id, request, status, param, text = case
    request = dict(request)
    response = client.post("/v1/predict", headers=request.pop("headers", AUTH), **request)
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert error["param"] == param and text in error["message"], error

"""ptrun.load(): the load-once predictor predicts exactly what `ptrun TASK --model M --eval-only`
writes, for every kind of run; and run folders written before the re-layout still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import ptrun
from conftest import write

REPO = Path(__file__).resolve().parents[1]
SENTIMENT_TEST = REPO / "plugins" / "demo" / "sentiment" / "test.tsv"
OLD_RUN = Path(__file__).parent / "fixtures" / "run-78ed6e8-sentiment-lora"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _inputs(n: int) -> list[dict]:
    lines = SENTIMENT_TEST.read_text(encoding="utf-8").splitlines()[1 : n + 1]
    return [{"text": line.split("\t")[0]} for line in lines]


def _eval_rows(cli, model, out, n=8, *extra):
    result = cli("sentiment", "--model", model, "--eval-only", "--test", SENTIMENT_TEST, "--limit-eval", n,
                 "--output-dir", out, *extra)
    assert result.exit_code == 0, result.output
    return _rows(out / "predictions" / "test.jsonl")


def _same(cli_rows, api_rows):
    assert [r["text"] for r in api_rows] == [r["text"] for r in cli_rows]
    assert [r["prediction"] for r in api_rows] == [r["prediction"] for r in cli_rows]
    assert [r.get("scores") for r in api_rows] == [r.get("scores") for r in cli_rows]


def _train(cli, model, out, *extra):
    result = cli("sentiment", "--model", model, "--epochs", 1, "--limit-train", 16, "--limit-eval", 4,
                 "--batch-size", 8, "--output-dir", out, *extra)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("method", ["full", "lora"])
def test_encoder_runs(cli, tiny_encoder, tmp_path, method):
    run = _train(cli, tiny_encoder, tmp_path / "run", "--method", method)
    cli_rows = _eval_rows(cli, run, tmp_path / "eval")
    p = ptrun.load(str(run))
    assert p.task.name == "sentiment" and p.backend.kind == "encoder"
    _same(cli_rows, p.predict(_inputs(8)))
    _same(cli_rows, p.predict(_inputs(8)))  # loaded once, predicts again the same


@pytest.mark.parametrize("method", ["full", "prompt-tuning"])
def test_causal_runs(cli, tiny_llama, tmp_path, method):
    run = _train(cli, tiny_llama, tmp_path / "run", "--method", method, "--num-virtual-tokens", 4)
    cli_rows = _eval_rows(cli, run, tmp_path / "eval")
    assert all("scores" in r for r in cli_rows)  # scored answer choices: compared to 4 decimals
    p = ptrun.load(str(run))
    assert p.backend.kind == "causal-lm" and p.prompt.name.endswith("sentiment/review")
    _same(cli_rows, p.predict(_inputs(8)))


@pytest.fixture
def tiny_alias(tiny_llama):
    from ptrun import registry

    class Alias:
        @ptrun.hookimpl
        def ptrun_models(self):
            return {"tiny-lm": ptrun.ModelSpec("tiny-lm", "test alias", lambda: tiny_llama, kind="causal-lm")}

    registry.register(Alias(), "tiny-alias")
    try:
        yield "tiny-lm"
    finally:
        registry.unregister("tiny-alias")


def test_zero_shot_alias_with_calibration(cli, tiny_alias, tmp_path):
    cli_rows = _eval_rows(cli, tiny_alias, tmp_path / "eval", 8, "--calibrate")
    p = ptrun.load(tiny_alias, task="sentiment", calibrate=True)
    _same(cli_rows, p.predict(_inputs(8)))


def test_old_run_folder_still_loads(cli, tiny_llama, tmp_path):
    """A LoRA run of a causal LM written by ptrun 78ed6e8 (before the re-layout; its base model
    is the same seeded tiny Llama): the same label scores, through the CLI and through the API."""
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    config = json.loads((run / "config.json").read_text())
    config["base_model_path"] = str(tiny_llama)
    (run / "config.json").write_text(json.dumps(config))
    then = _rows(OLD_RUN / "predictions" / "test.jsonl")
    cli_rows = _eval_rows(cli, run, tmp_path / "eval", len(then))
    assert [(r["prediction"], r["scores"]) for r in cli_rows] == [(r["prediction"], r["scores"]) for r in then]
    _same(cli_rows, ptrun.load(str(run)).predict(_inputs(len(then))))


def test_bad_inputs_name_the_input_and_field(tiny_encoder, tmp_path, cli):
    run = _train(cli, tiny_encoder, tmp_path / "run")
    p = ptrun.load(str(run))
    with pytest.raises(ptrun.DataError, match=r"inputs\[1\]: missing text") as info:
        p.predict([{"text": "fine"}, {"txt": "typo"}])
    assert "fields present: txt" in str(info.value)
    with pytest.raises(ptrun.DataError, match=r"inputs\[0\]: expected a dict"):
        p.predict(["just a string"])
    with pytest.raises(ptrun.PtrunError, match="unknown option"):
        ptrun.load(str(run), shots_per_class=3)
    with pytest.raises(ptrun.PtrunError, match="task must be given"):
        ptrun.load(str(tiny_encoder))


def test_ner_predictor_matches_eval_only(cli, tiny_encoder, tmp_path):
    run = tmp_path / "ner"
    result = cli("ner", "--model", tiny_encoder, "--epochs", 1, "--limit-train", 16, "--limit-eval", 6, "--output-dir", run)
    assert result.exit_code == 0, result.output
    test = write(tmp_path / "t.txt", "John NNP B-PER\nlives VBZ O\nin IN O\nParis NNP B-LOC\n\nHello UH O\n")
    ev = cli("ner", "--model", run, "--eval-only", "--test", test, "--output-dir", tmp_path / "eval")
    assert ev.exit_code == 0, ev.output
    cli_rows = _rows(tmp_path / "eval" / "predictions" / "test.jsonl")
    api_rows = ptrun.load(str(run)).predict([{"tokens": ["John", "lives", "in", "Paris"]}, {"tokens": ["Hello"]}])
    assert [r["prediction"] for r in api_rows] == [r["prediction"] for r in cli_rows]

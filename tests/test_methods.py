"""--method lora through peft: adapter-only run folders that reload in a new process."""

from __future__ import annotations

import json

import pytest

from conftest import run_ptrun


def _lora(cli, task, files, tiny_encoder, out, *extra):
    return cli(task, "--train", files["train"], "--test", files["test"], "--model", tiny_encoder, "--epochs", "1",
               "--batch-size", "4", "--method", "lora", "--lora-r", "4", "--output-dir", out, *extra)


def test_lora_ner_saves_only_the_adapter_and_reloads(cli, tiny_encoder, ner_files, tmp_path):
    out = tmp_path / "run"
    result = _lora(cli, "ner", ner_files, tiny_encoder, out)
    assert result.exit_code == 0, result.output
    assert "Method lora" in result.output
    assert (out / "model/adapter_config.json").is_file()
    assert not (out / "model/model.safetensors").exists()
    train = json.loads((out / "metrics.json").read_text())["train"]
    assert 0 < train["trainable_parameters"] < train["total_parameters"]
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == "lora" and config["base_model_path"] == str(tiny_encoder)

    again = tmp_path / "again"
    proc = run_ptrun("ner", "--model", out, "--eval-only", "--test", ner_files["test"], "--output-dir", again)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((again / "metrics.json").read_text())["test"] == json.loads((out / "metrics.json").read_text())["test"]
    assert (again / "predictions/test.jsonl").read_text() == (out / "predictions/test.jsonl").read_text()


def test_lora_sentiment_trains_the_head_and_a_small_fraction(cli, tiny_encoder, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = _lora(cli, "sentiment", sentiment_files, tiny_encoder, out)
    assert result.exit_code == 0, result.output
    adapter = json.loads((out / "model/adapter_config.json").read_text())
    assert adapter["task_type"] == "SEQ_CLS" and adapter["r"] == 4
    assert sorted(adapter["target_modules"]) == ["dense", "key", "query", "value"]
    assert "classifier" in (adapter.get("modules_to_save") or [])


def test_lora_errors_are_clear(cli, tiny_encoder, sentiment_files, tmp_path):
    result = _lora(cli, "sentiment", sentiment_files, tiny_encoder, tmp_path / "bad", "--lora-targets", "nosuchlayer")
    assert result.exit_code == 1 and "--lora-targets" in result.output and "Traceback" not in result.output
    out = tmp_path / "run"
    assert _lora(cli, "sentiment", sentiment_files, tiny_encoder, out).exit_code == 0
    result = cli("sentiment", "--model", out, "--train", sentiment_files["train"], "--output-dir", tmp_path / "more")
    assert result.exit_code == 1 and "is a lora run (an adapter)" in result.output


def _train_args(files, tiny_encoder, out, *extra):
    return ["sentiment", "--train", files["train"], "--test", files["test"], "--model", tiny_encoder,
            "--epochs", "30", "--batch-size", "2", "--save-steps", "20", "--output-dir", out, *extra]


def test_killed_training_resumes_to_the_same_result(tiny_encoder, sentiment_files, tmp_path):
    """SIGKILL mid-run, --resume, and the run ends as an uninterrupted one does."""
    import os
    import signal
    import subprocess
    import sys
    import time

    whole = tmp_path / "whole"
    proc = run_ptrun(*_train_args(sentiment_files, tiny_encoder, whole))
    assert proc.returncode == 0, proc.stderr

    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-m", "ptrun.cli", *map(str, _train_args(sentiment_files, tiny_encoder, out))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list((out / "checkpoints").glob("checkpoint-60/trainer_state.json")):
        assert child.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    killed = json.loads((out / "metrics.json").read_text())
    assert set(killed) == {"history"} and killed["history"][0]["step"] == 48  # the curve so far, no results
    written = [p for p in out.rglob("*.json") if "checkpoints" not in p.parts]
    assert written and all(json.loads(p.read_text()) for p in written)  # nothing ptrun wrote is truncated
    assert not list(out.rglob(".*.tmp"))

    proc = run_ptrun(*_train_args(sentiment_files, tiny_encoder, out, "--resume"))
    assert proc.returncode == 0, proc.stderr
    first = json.loads((whole / "metrics.json").read_text())
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["train"]["steps"] == first["train"]["steps"] == 240
    steps = [row["step"] for row in resumed["history"] if "loss" in row]
    assert steps == [row["step"] for row in first["history"] if "loss" in row] == [48, 96, 144, 192, 240]
    assert abs(resumed["test"]["accuracy"] - first["test"]["accuracy"]) <= 1 / 6 + 1e-9  # one of 6 examples
    config = json.loads((out / "config.json").read_text())
    assert config["status"] == "complete" and len(config["resumed"]) == 1


def test_resume_refuses_changed_options_and_missing_checkpoints(cli, tiny_encoder, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli(*_train_args(sentiment_files, tiny_encoder, out, "--resume"))
    assert result.exit_code == 1 and "no checkpoint" in result.output
    assert cli("sentiment", "--train", sentiment_files["train"], "--model", tiny_encoder, "--epochs", "1",
               "--batch-size", "2", "--save-steps", "2", "--output-dir", out).exit_code == 0
    result = cli("sentiment", "--train", sentiment_files["train"], "--model", tiny_encoder, "--epochs", "1",
                 "--batch-size", "2", "--save-steps", "2", "--lr", "0.1", "--output-dir", out, "--resume")
    assert result.exit_code == 1 and "lr" in result.output and "differ" in result.output


def test_missing_device_and_precision_are_clear_errors(cli, tiny_encoder, sentiment_files, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA: --device cuda and --fp16 are valid here")
    args = ["sentiment", "--train", sentiment_files["train"], "--model", tiny_encoder, "--output-dir", tmp_path / "r"]
    result = cli(*args, "--device", "cuda")
    assert result.exit_code == 1 and "--device cuda: no such device" in result.output
    result = cli(*args, "--fp16", "--overwrite")
    assert result.exit_code == 1 and "--fp16 needs a CUDA GPU" in result.output


def test_export_merge_writes_a_standalone_run_with_the_same_predictions(cli, tiny_encoder, ner_files, tmp_path):
    out = tmp_path / "lora"
    assert _lora(cli, "ner", ner_files, tiny_encoder, out).exit_code == 0
    merged = tmp_path / "merged"
    result = cli("export", out, "--merge", "--output-dir", merged)
    assert result.exit_code == 0, result.output
    assert (merged / "model/model.safetensors").is_file() and not (merged / "model/adapter_config.json").exists()
    again = tmp_path / "again"
    proc = run_ptrun("ner", "--model", merged, "--eval-only", "--test", ner_files["test"], "--output-dir", again)
    assert proc.returncode == 0, proc.stderr
    assert (again / "predictions/test.jsonl").read_text() == (out / "predictions/test.jsonl").read_text()
    result = cli("export", merged, "--merge", "--output-dir", tmp_path / "twice")
    assert result.exit_code == 1 and "nothing to merge" in result.output


def test_adalora_and_soft_prompt_methods_train_save_and_reload(cli, tiny_encoder, sentiment_files, tmp_path):
    for method in ("adalora", "prompt-tuning", "p-tuning"):
        out = tmp_path / method
        result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"],
                     "--model", tiny_encoder, "--epochs", "2", "--batch-size", "4", "--method", method,
                     "--num-virtual-tokens", "4", "--output-dir", out)
        assert result.exit_code == 0, (method, result.output)
        assert f"Method {method}: training" in result.output
        assert (out / "model/adapter_config.json").is_file()
        again = tmp_path / f"{method}-again"
        proc = run_ptrun("sentiment", "--model", out, "--eval-only", "--test", sentiment_files["test"],
                         "--output-dir", again)
        assert proc.returncode == 0, (method, proc.stderr)
        assert (again / "predictions/test.jsonl").read_text() == (out / "predictions/test.jsonl").read_text(), method
    adapter = json.loads((tmp_path / "prompt-tuning/model/adapter_config.json").read_text())
    assert adapter["prompt_tuning_init"] == "TEXT" and adapter["prompt_tuning_init_text"] == "Review: Sentiment:"
    result = cli("export", tmp_path / "prompt-tuning", "--merge", "--output-dir", tmp_path / "merged")
    assert result.exit_code == 1 and "cannot be merged" in result.output
    # BERT's forward takes no past key values, which peft's prefix tuning needs: a clear refusal.
    result = cli("sentiment", "--train", sentiment_files["train"], "--model", tiny_encoder, "--method",
                 "prefix-tuning", "--output-dir", tmp_path / "prefix")
    assert result.exit_code == 1 and "past key values" in result.output and "Traceback" not in result.output


def test_soft_prompts_are_refused_for_tagging(cli, tiny_encoder, ner_files, tmp_path):
    result = cli("ner", "--train", ner_files["train"], "--model", tiny_encoder, "--method", "prompt-tuning",
                 "--output-dir", tmp_path / "r")
    assert result.exit_code == 1 and "cannot label" in result.output and "Traceback" not in result.output

"""Generative QA: a causal LM writes the answer, scored with SQuAD EM/F1 against every gold answer."""

from __future__ import annotations

import json

from conftest import read_metrics, read_rows, run_ptrun


def test_generation_maps_to_an_answer_string():
    from ptrun.plugins.qa import QaTask

    task = QaTask()
    assert task.parse_generation(None, ' "Marlbridge."\nQuestion: next', None) == ("Marlbridge", {})
    assert task.parse_generation(None, "  \n ", None) == (None, {"empty_generations": 1})


def test_zero_shot_few_shot_and_fine_tuned_generative_qa(cli, tiny_llama, tmp_path):
    out = tmp_path / "zero"
    common = ["--model", tiny_llama, "--limit-eval", "6", "--batch-size", "4", "--max-new-tokens", "4"]
    result = cli("qa", "--eval-only", "--output-dir", out, *common)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["template"] == "qa/generative" and config["inference"] == "generate"
    test = read_metrics(out)["test"]
    assert {"exact_match", "f1", "unparseable"} <= set(test)
    rows = read_rows(out)
    assert rows[0]["id"].startswith("test-") and "generated" in rows[0] and isinstance(rows[0]["reference"], list)

    few = tmp_path / "few"
    result = cli("qa", "--eval-only", "--shots", "2", "--output-dir", few, *common)
    assert result.exit_code == 0, result.output
    assert len(json.loads((few / "config.json").read_text())["demonstrations"]) == 2

    tuned = tmp_path / "tuned"
    result = cli("qa", "--limit-train", "16", "--epochs", "1", "--output-dir", tuned, *common)
    assert result.exit_code == 0, result.output
    assert read_metrics(tuned)["train"]["steps"] == 4
    again = tmp_path / "again"
    proc = run_ptrun("qa", "--model", tuned, "--eval-only", "--limit-eval", "6", "--max-new-tokens", "4", "--output-dir", again)
    assert proc.returncode == 0, proc.stderr
    assert [r["prediction"] for r in read_rows(again)] == [r["prediction"] for r in read_rows(tuned)]


def test_an_extractive_template_is_refused_for_a_causal_lm(cli, tiny_llama, tmp_path):
    result = cli("qa", "--model", tiny_llama, "--eval-only", "--template", "qa/extractive", "--output-dir", tmp_path / "r")
    assert result.exit_code == 1 and "extractive.j2" in result.output and "encoder" in result.output

"""``--baseline``: a training run also evaluates its untrained starting point and reports the gain."""

from __future__ import annotations

import pytest

from conftest import read_metrics, read_rows


def _files(files, *, validation=True):
    args = ["--train", files["train"], "--test", files["test"]]
    return args + (["--validation", files["dev"]] if validation else [])


@pytest.mark.parametrize("kind", ["encoder", "causal-lm"])
def test_baseline_is_the_untrained_model_and_gain_is_the_difference(cli, tiny_encoder, tiny_llama, sentiment_files, tmp_path, kind):
    model = tiny_encoder if kind == "encoder" else tiny_llama
    common = ["--model", model, "--batch-size", 4, "--seed", 7]
    out = tmp_path / "run"
    result = cli("sentiment", *_files(sentiment_files), *common, "--epochs", 1, "--lr", "1e-3",
                 "--baseline", "--output-dir", out)
    assert result.exit_code == 0, result.output
    metrics = read_metrics(out)
    assert set(metrics["baseline"]) == {"validation", "test"}
    for split in ("validation", "test"):
        before, after = metrics["baseline"][split], metrics[split]
        assert metrics["gain"][split]["accuracy"] == pytest.approx(after["accuracy"] - before["accuracy"], abs=1e-6)
        rows = read_rows(out, f"baseline-{split}")
        assert before["accuracy"] == sum(r["prediction"] == r["reference"] for r in rows) / len(rows)
    line = next(l for l in result.output.splitlines() if l.startswith("baseline (untrained) test accuracy"))
    b, a = metrics["baseline"]["test"]["accuracy"], metrics["test"]["accuracy"]
    assert line == f"baseline (untrained) test accuracy {b:.4f} -> trained {a:.4f} ({a - b:+.4f})"
    assert line in (out / "report.md").read_text()

    # The baseline is what evaluating the starting model as it is gives (same seed: same fresh head).
    plain = tmp_path / "eval-only"
    result = cli("sentiment", *_files(sentiment_files), *common, "--eval-only", "--output-dir", plain)
    assert result.exit_code == 0, result.output
    assert read_rows(plain, "test") == read_rows(out, "baseline-test")
    assert read_metrics(plain)["test"]["accuracy"] == metrics["baseline"]["test"]["accuracy"]


def test_without_baseline_nothing_extra(cli, tiny_encoder, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", *_files(sentiment_files, validation=False), "--model", tiny_encoder, "--epochs", 1,
                 "--batch-size", 4, "--output-dir", out)
    assert result.exit_code == 0, result.output
    assert "baseline" not in read_metrics(out) and "gain" not in read_metrics(out)
    assert not (out / "predictions" / "baseline-test.jsonl").exists()
    assert "baseline (untrained)" not in result.output


def test_baseline_for_ner(cli, tiny_encoder, ner_files, tmp_path):
    out = tmp_path / "run"
    result = cli("ner", "--train", ner_files["train"], "--test", ner_files["test"], "--model", tiny_encoder,
                 "--epochs", 1, "--batch-size", 4, "--lr", "1e-3", "--baseline", "--output-dir", out)
    assert result.exit_code == 0, result.output
    metrics = read_metrics(out)
    assert set(metrics["gain"]["test"]) >= {"f1", "precision", "recall", "token_accuracy"}
    assert metrics["gain"]["test"]["f1"] == pytest.approx(metrics["test"]["f1"] - metrics["baseline"]["test"]["f1"], abs=1e-6)
    assert "baseline (untrained) test f1" in result.output

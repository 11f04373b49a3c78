"""report.html and the run's plots: drawn from the run folder's own data, fail soft, and a real
headless Chromium renders the page with every image loaded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import read_metrics

pytest.importorskip("matplotlib")

HISTORY = [
    {"step": 2, "epoch": 0.5, "loss": 0.71, "learning_rate": 4e-5, "grad_norm": 1.2},
    {"step": 2, "epoch": 0.5, "eval_loss": 0.69, "eval_accuracy": 0.5, "eval_macro_f1": 0.4, "eval_runtime": 0.1},
    {"step": 4, "epoch": 1.0, "loss": 0.52, "learning_rate": 2e-5, "grad_norm": 0.9},
    {"step": 4, "epoch": 1.0, "eval_loss": 0.55, "eval_accuracy": 0.75, "eval_macro_f1": 0.7, "eval_runtime": 0.1},
    {"step": 4, "epoch": 1.0, "train_runtime": 3.0, "train_loss": 0.6},
]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _images(html: str) -> list[str]:
    return re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,', html)


def test_classification_run_writes_report_html_with_its_plots(cli, tiny_encoder, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--train", sentiment_files["train"], "--validation", sentiment_files["dev"],
                 "--test", sentiment_files["test"], "--model", tiny_encoder, "--epochs", "1",
                 "--batch-size", "4", "--eval-steps", "2", "-o", out)
    assert result.exit_code == 0, result.output
    metrics = read_metrics(out)
    assert [row["step"] for row in metrics["history"] if "eval_accuracy" in row] == [2, 4]
    lengths = metrics["train"]["prompt_lengths"]
    assert sum(lengths["counts"]) == 16 and lengths["max"] <= 128
    plots = sorted(p.name for p in (out / "plots").glob("*.png"))
    # The curves from the history (losses, and the evaluations of --eval-steps); the rest by shape.
    assert plots == ["confusion-test.png", "confusion-validation.png", "evaluation.png", "lengths.png",
                     "per-class-report-test.png", "per-class-report-validation.png", "training.png"], plots
    for png in (out / "plots").glob("*.png"):
        assert min(_png_size(png)) > 100
    html = (out / "report.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    assert len(_images(html)) == len(plots)
    assert "Confusion matrix (test)" in _images(html) and "Evaluation during training" in _images(html)
    md = (out / "report.md").read_text()
    assert "![Confusion matrix (test)](plots/confusion-test.png)" in md
    assert "## Results" in md


def test_scored_causal_lm_run_gets_a_reliability_diagram(cli, tiny_llama, sentiment_files, tmp_path):
    out = tmp_path / "lm"
    result = cli("sentiment", "--model", tiny_llama, "--eval-only", "--test", sentiment_files["test"], "-o", out)
    assert result.exit_code == 0, result.output
    assert "scores" in json.loads((out / "predictions" / "test.jsonl").read_text().splitlines()[0])
    assert sorted(p.name for p in (out / "plots").glob("*.png")) == [
        "confusion-test.png", "per-class-report-test.png", "reliability-test.png"]  # eval-only: no training plots
    assert 'alt="Reliability diagram (test)"' in (out / "report.html").read_text()


def test_plots_follow_the_data_history_scores_and_per_type_reports(tmp_path):
    from ptrun.run import plots

    config = {"label_map": {"kind": "classes", "labels": ["negative", "positive"]}, "config": {"max_length": 64}}
    results = {
        "history": HISTORY,
        "train": {"prompt_lengths": plots.length_histogram([10, 12, 30, 64, 64])},
        "test": {"accuracy": 0.5, "per_type_report": {"PER": {"precision": 0.5, "recall": 0.4, "f1": 0.44, "support": 3},
                                                      "LOC": {"precision": 1.0, "recall": 0.9, "f1": 0.95, "support": 2}}},
    }
    records = [{"id": str(i), "prediction": p, "reference": r, "scores": {"negative": s, "positive": -s}}
               for i, (p, r, s) in enumerate([("negative", "negative", -0.1), ("positive", "negative", -2.0),
                                              ("positive", "positive", -3.0), ("negative", "positive", 0.2)])]
    warnings: list[str] = []
    specs = plots.run_specs(tmp_path, config, results, lambda split: records, "accuracy")
    drawn = plots.draw(tmp_path, specs, warnings.append)
    assert warnings == []
    names = {p.name for _title, p in drawn}
    assert names == {"training.png", "evaluation.png", "lengths.png", "confusion-test.png",
                     "reliability-test.png", "per-type-report-test.png"}
    # The figures say what they show: titles, axis labels and legends.
    fig = plots.training_curves(HISTORY)
    loss_ax, lr_ax = fig.axes
    assert loss_ax.get_title() == "Training loss" and loss_ax.get_xlabel() == "step"
    assert list(loss_ax.lines[0].get_ydata()) == [0.71, 0.52]
    assert lr_ax.get_legend() is not None
    fig = plots.eval_curves(HISTORY, "accuracy")
    assert {line.get_label() for line in fig.axes[0].lines} == {"accuracy", "macro_f1"}  # runtime is not a metric
    assert fig.axes[1].get_ylabel() == "loss"
    fig = plots.confusion_matrix(records, ["negative", "positive"], "test")
    assert fig.axes[0].get_images()[0].get_array().tolist() == [[1, 1], [1, 1]]
    fig = plots.reliability(records, "test")
    assert "ECE" in fig.axes[0].get_title()
    fig = plots.prompt_lengths(results["train"]["prompt_lengths"], 64)
    assert "--max-length 64" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_reliability_uses_calibrated_probabilities():
    from ptrun.run.plots import _probabilities

    probs = _probabilities({"a": -0.1053605, "b": -2.3025851})  # log 0.9, log 0.1
    assert probs["a"] == pytest.approx(0.9, abs=1e-6) and probs["b"] == pytest.approx(0.1, abs=1e-6)


def test_a_plot_that_fails_is_skipped_with_a_warning(tmp_path):
    from ptrun.run import plots

    def broken():
        raise ValueError("no such axis")

    warnings: list[str] = []
    drawn = plots.draw(tmp_path, [("bad", "Broken plot", broken),
                                  ("lengths", "Lengths", lambda: plots.prompt_lengths({"edges": [1, 2], "counts": [3]}, 8))],
                       warnings.append)
    assert [p.name for _t, p in drawn] == ["lengths.png"]
    assert warnings == ["plot 'Broken plot' was skipped: ValueError: no such axis"]


def test_a_bad_history_does_not_fail_the_report(tmp_path, capsys):
    """A history row with a non-numeric loss: that plot is skipped with a warning, the report is written."""
    from types import SimpleNamespace

    from ptrun.run.report import write_report

    config = {"config": {"lr": 1e-3, "epochs": 1, "seed": 1, "batch_size": 2, "max_length": 16}, "data": {},
              "examples": {}, "method": "full", "model": "m", "model_kind": "encoder", "template_source": "t",
              "template_sha256": "0" * 64, "versions": {}, "label_map": {"kind": "classes", "labels": ["a"]}}
    results = {"history": [{"step": 1, "loss": "oops"}, {"step": 2, "loss": None}]}
    warnings: list[str] = []
    write_report(tmp_path, SimpleNamespace(name="t", main_metric="accuracy"), config, results, warn=warnings.append)
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.md").is_file()
    assert len(warnings) == 1 and warnings[0].startswith("plot 'Training loss and learning rate' was skipped")


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const out = document.createElement('div');
  out.id = 'ptrun-check';
  out.textContent = JSON.stringify({images: imgs.length, broken: bad});
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt-get install -y chromium; CI installs it)")
def test_report_html_renders_in_headless_chromium_with_no_missing_image(cli, tiny_encoder, sentiment_files, tmp_path):
    out = tmp_path / "run"
    result = cli("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"],
                 "--model", tiny_encoder, "--epochs", "1", "--batch-size", "4", "-o", out)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["history"] = HISTORY  # as a run with evaluation during training writes it
    (out / "metrics.json").write_text(json.dumps(metrics))
    from ptrun import registry
    from ptrun.run.report import write_report

    write_report(out, registry.get_task("sentiment"), json.loads((out / "config.json").read_text()), metrics)
    # The page is checked as written, plus a script that records what the browser loaded.
    page = tmp_path / "checked.html"
    page.write_text((out / "report.html").read_text().replace("</body>", CHECK + "</body>"))
    # A broken image must be caught: the same page with one image's data corrupted.
    broken = tmp_path / "broken.html"
    broken.write_text(page.read_text().replace("base64,iVBOR", "base64,AAAA", 1))
    results = {}
    for name, path in (("page", page), ("broken", broken)):
        proc = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=5000", "--dump-dom", path.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )
        found = re.search(r'<div id="ptrun-check">(.*?)</div>', proc.stdout)
        assert found, proc.stderr[-2000:]
        results[name] = json.loads(found.group(1).replace("&quot;", '"'))
    # training, evaluation, lengths, confusion and per-class bars of the test split
    assert results["page"]["images"] == 5 and results["page"]["broken"] == []
    assert results["broken"]["images"] == 5 and len(results["broken"]["broken"]) == 1

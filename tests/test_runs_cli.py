"""ptrun runs and ptrun compare, on run folders in the format ptrun writes."""

from __future__ import annotations

import json

from conftest import run_ptrun


def _run(root, name, *, task="sentiment", started, seed=42, lr=5e-5, method="full", test=None, validation=None,
         status="complete", train_runtime=12.5, model="minilm", template="sentiment/review"):
    """A run folder as ptrun.run.folder.new_config and the pipeline write it."""
    out = root / name
    (out / "model").mkdir(parents=True)
    config = {"ptrun_version": "0.1.0", "status": status, "started": started, "task": task, "model": model,
              "model_kind": "encoder", "method": method, "template_source": template, "template_sha256": "ab" * 32,
              "data": {"train": "train.tsv"}, "config": {"task": task, "seed": seed, "lr": lr, "epochs": 3.0, "batch_size": 16,
                                                        "output_dir": str(root / name)}}
    metrics = {"train": {"train_runtime": train_runtime}}
    if validation is not None:
        metrics["validation"] = validation
    if test is not None:
        metrics["test"] = test
    (out / "config.json").write_text(json.dumps(config))
    (out / "metrics.json").write_text(json.dumps(metrics))
    return out


def _rows(output: str) -> list[list[str]]:
    lines = output.strip().splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}
    return [line.split() for line in lines[2:]]


def test_runs_lists_run_folders_newest_first_with_their_main_metric(cli, tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "old", started="2026-01-01T10:00:00+0000", test={"accuracy": 0.81, "macro_f1": 0.80},
         validation={"accuracy": 0.83, "macro_f1": 0.82})
    _run(runs, "new", started="2026-01-02T10:00:00+0000", seed=13, method="lora", test={"accuracy": 0.77, "macro_f1": 0.7})
    _run(runs / "sweep-x", "trial-0000", task="ner", started="2026-01-01T12:00:00+0000",
         test={"f1": 0.6, "precision": 0.5, "per_type_report": {"PER": {"f1": 0.6}}}, status="running")
    (runs / "not-a-run").mkdir()
    (runs / "not-a-run" / "config.json").write_text("{}")  # no ptrun_version: not ptrun's
    result = cli("runs", runs)
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert [r[0] for r in rows] == [str(runs / "new"), str(runs / "sweep-x" / "trial-0000"), str(runs / "old")]
    new, ner, old = rows
    assert new[1:8] == ["sentiment", "minilm", "sentiment/review", "lora", "13", "accuracy", "-"] and new[8] == "0.7700"
    assert ner[6:9] == ["f1", "-", "0.6000"] and ner[10] == "running"  # the ner task's main metric
    assert old[7:10] == ["0.8300", "0.8100", "12.5"]
    data = json.loads(cli("runs", runs, "--json").output)
    assert data[2]["metrics"]["validation"] == {"accuracy": 0.83, "macro_f1": 0.82}


def test_runs_sort_by_a_metric(cli, tmp_path):
    runs = tmp_path / "runs"
    _run(runs, "a", started="2026-01-03", test={"accuracy": 0.70})
    _run(runs, "b", started="2026-01-01", test={"accuracy": 0.90})
    _run(runs, "c", started="2026-01-02", validation={"accuracy": 0.95}, test={"accuracy": 0.80})
    _run(runs, "d", started="2026-01-04")  # nothing evaluated: last
    names = lambda out: [r[0].rsplit("/", 1)[-1] for r in _rows(out)]
    assert names(cli("runs", runs, "--sort", "accuracy").output) == ["b", "c", "a", "d"]
    assert names(cli("runs", runs, "--sort", "test.accuracy", "--ascending").output) == ["a", "c", "b", "d"]
    assert names(cli("runs", runs, "--sort", "validation.accuracy").output) == ["c", "d", "a", "b"]
    bad = cli("runs", runs, "--sort", "bleu")
    assert bad.exit_code == 1 and "--sort bleu: no run has that metric" in bad.output


def test_compare_shows_metrics_side_by_side_and_the_options_that_differ(cli, tmp_path):
    a = _run(tmp_path, "a", started="2026-01-01", lr=5e-5, test={"accuracy": 0.81, "macro_f1": 0.8})
    b = _run(tmp_path, "b", started="2026-01-02", lr=2e-3, method="lora", test={"accuracy": 0.84})
    result = cli("compare", a, b)
    assert result.exit_code == 0, result.output
    metrics, options = result.output.strip().split("\n\n")
    rows = _rows(metrics)
    assert ["test", "accuracy", "0.8100", "0.8400"] in rows and ["test", "macro_f1", "0.8000", "-"] in rows
    assert ["train", "train_runtime", "12.5000", "12.5000"] in rows
    diff = {r[0]: r[1:] for r in _rows(options)}
    assert diff == {"config.lr": ["5e-05", "0.002"], "method": ["full", "lora"]}
    data = json.loads(cli("compare", a, b, "--json").output)
    assert data["differences"] == {"config.lr": [5e-05, 0.002], "method": ["full", "lora"]}
    assert data["metrics"]["test"]["accuracy"] == [0.81, 0.84]


def test_compare_and_runs_errors_are_one_paragraph(cli, tmp_path):
    a = _run(tmp_path, "a", started="2026-01-01")
    result = cli("compare", a)
    assert result.exit_code == 1 and "at least two run folders" in result.output
    (tmp_path / "plain").mkdir()
    result = cli("compare", a, tmp_path / "plain")
    assert result.exit_code == 1 and "plain is not a ptrun run folder" in result.output
    result = cli("runs", tmp_path / "missing")
    assert result.exit_code == 1 and "missing is not a folder" in result.output


def test_runs_with_no_runs_folder_says_so(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("runs")
    assert result.exit_code == 0 and result.output.strip() == "No run folders under runs."
    assert cli("runs", "--json").output.strip() == "[]"


def test_runs_reads_a_real_run_without_importing_torch(tiny_encoder, sentiment_files, tmp_path):
    out = tmp_path / "runs" / "real"
    proc = run_ptrun("sentiment", "--train", sentiment_files["train"], "--test", sentiment_files["test"],
                     "--model", tiny_encoder, "--epochs", "1", "--batch-size", "8", "-o", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    probe = ("import sys; from ptrun.cli import main\ntry:\n    main(['runs', sys.argv[1], '--json'])\n"
             "except SystemExit:\n    pass\nprint('TORCH', 'torch' in sys.modules)")
    import subprocess
    import sys

    listed = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "runs")], capture_output=True, text=True, check=False)
    rows = json.loads(listed.stdout[: listed.stdout.rindex("TORCH")])
    assert "TORCH False" in listed.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(rows) == 1 and rows[0]["test"] == metrics["test"]["accuracy"] and rows[0]["metric"] == "accuracy"
    assert rows[0]["status"] == "complete" and rows[0]["train_time"] == metrics["train"]["train_runtime"]

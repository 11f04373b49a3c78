"""ptrun sweep: the space file, the pruning callback, a real sweep on a tiny model, two workers on
one SQLite study, Ctrl-C and continuing a study."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import write

optuna = pytest.importorskip("optuna")


def _space(tmp_path, text):
    return write(tmp_path / "space.yaml", text)


def test_space_reads_ranges_choices_and_lists(tmp_path):
    from ptrun.run.space import load_space

    params = load_space(_space(tmp_path, "lr: {low: 1e-5, high: 1e-3, log: true}\nepochs: {choices: [1, 2]}\n"
                                         "lora-r: {low: 4, high: 16, step: 4}\ntemplate: [sentiment/cloze, none]\n"))
    by_name = {p.name: p for p in params}
    assert [p.name for p in params] == ["lr", "epochs", "lora_r", "template"]
    assert (by_name["lr"].kind, by_name["lr"].low, by_name["lr"].log) == ("float", 1e-5, True)  # 1e-5 (YAML text) is a number
    assert by_name["epochs"].kind == "categorical" and by_name["epochs"].choices == (1, 2)
    assert (by_name["lora_r"].kind, by_name["lora_r"].step) == ("int", 4)
    assert by_name["template"].choices == ("sentiment/cloze", "none")


@pytest.mark.parametrize("text, message", [
    ("epochs: {choices: [1]}\nlearning_rate: {low: 1, high: 2}\n", "space.yaml:2: learning_rate: not an option of a run"),
    ("lr: {low: 1e-3, high: 1e-5}\n", "space.yaml:1: lr: low (0.001) must be less than high (1e-05)"),
    ("lr: {low: 0, high: 1, log: true}\n", "space.yaml:1: lr: a log-scale range needs low > 0"),
    ("batch-size: {low: 2.5, high: 8}\n", "space.yaml:1: batch-size: low and high must be ints"),
    ("\n\nlr: 0.001\n", "space.yaml:3: lr: 0.001 is a single value, not a range or choices"),
    ("lr: {low: 1e-5, hi: 1e-3}\n", "space.yaml:1: lr: unknown key(s) hi"),
    ("template: {low: 1, high: 2}\n", "space.yaml:1: template: a range needs a numeric option"),
    ("batch_size: [8, big]\n", "space.yaml:1: batch_size: choice \"big\" is not an int"),
    ("output-dir: [a, b]\n", "space.yaml:1: output-dir: this option cannot be searched"),
    ("lr: [1e-5\n", "space.yaml:2: the search space is not valid YAML"),
])
def test_a_bad_space_is_an_error_naming_the_line_and_key(tmp_path, text, message):
    from ptrun.errors import PtrunError
    from ptrun.run.space import load_space

    with pytest.raises(PtrunError) as info:
        load_space(_space(tmp_path, text))
    assert message in info.value.format()


def test_an_unknown_option_suggests_the_close_one(tmp_path):
    from ptrun.errors import PtrunError
    from ptrun.run.space import load_space

    with pytest.raises(PtrunError, match="Did you mean lora_r"):
        load_space(_space(tmp_path, "lora_rank: {low: 4, high: 8}\n"))


def test_pruning_callback_reports_eval_metric_and_stops_a_worse_trial():
    from ptrun.run.sweep import pruning_callback
    from transformers import TrainerControl, TrainerState, TrainingArguments

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0))
    for value in (0.8, 0.9):  # two finished trials that scored well at step 10
        t = study.ask()
        t.report(value, step=10)
        study.tell(t, value)
    args = TrainingArguments(output_dir="/tmp/unused", report_to="none")
    trial = study.ask()
    callback = pruning_callback(trial, "accuracy")
    state, control = TrainerState(), TrainerControl()
    state.global_step = 5
    callback.on_evaluate(args, state, control, metrics={"eval_loss": 0.3})  # no eval_accuracy: nothing reported
    assert not control.should_training_stop and study.trials[-1].intermediate_values == {}
    state.global_step = 10
    callback.on_evaluate(args, state, control, metrics={"eval_accuracy": 0.95, "eval_loss": 0.2})
    assert not control.should_training_stop and not callback.pruned  # better than the median: goes on
    good = study.trials[-1]
    assert good.intermediate_values == {10: 0.95}
    study.tell(trial, 0.95)
    worse = study.ask()
    callback = pruning_callback(worse, "accuracy")
    control = TrainerControl()
    callback.on_evaluate(args, state, control, metrics={"eval_accuracy": 0.1})
    assert control.should_training_stop and callback.pruned_at == 10


def _sweep_args(tiny_encoder, sentiment_files, out, space, trials, *extra):
    return ["sweep", "sentiment", "--space", space, "--trials", trials, "-o", out,
            "--train", sentiment_files["train"], "--validation", sentiment_files["dev"],
            "--model", tiny_encoder, "--epochs", "1", "--batch-size", "8", *extra]


def test_a_sweep_runs_trials_as_run_folders_and_writes_its_table_best_and_report(cli, tiny_encoder, sentiment_files, tmp_path):
    space = _space(tmp_path, "lr: {low: 1e-4, high: 1e-2, log: true}\nlora-r: {choices: [2, 4]}\n")
    out = tmp_path / "sweep"
    result = cli(*_sweep_args(tiny_encoder, sentiment_files, out, space, 3, "--method", "lora"))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("trial ")]
    assert len(lines) == 3 and all("best so far: trial" in line for line in lines), result.stdout
    assert "Run folder:" not in result.stdout  # a trial's own summary stays in its folder
    data = json.loads((out / "trials.json").read_text())
    assert [t["number"] for t in data["trials"]] == [0, 1, 2] and {t["state"] for t in data["trials"]} == {"complete"}
    assert data["metric"] == "validation.accuracy" and data["direction"] == "maximize"
    for t in data["trials"]:
        run = out / t["run"]
        config = json.loads((run / "config.json").read_text())
        assert config["status"] == "complete" and config["method"] == "lora"
        assert config["config"]["lr"] == pytest.approx(t["lr"]) and config["config"]["lora_r"] == t["lora_r"]
        assert json.loads((run / "metrics.json").read_text())["validation"]["accuracy"] == pytest.approx(t["value"])
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [r["number"] for r in rows] == ["0", "1", "2"] and float(rows[0]["value"]) == pytest.approx(data["trials"][0]["value"])
    import yaml

    best = max(data["trials"], key=lambda t: t["value"])
    options = yaml.safe_load((out / "best.yaml").read_text())
    assert options["lr"] == pytest.approx(best["lr"]) and options["lora-r"] == best["lora_r"]
    assert options["method"] == "lora" and options["epochs"] == 1.0 and "output-dir" not in options
    # best.yaml replays the best trial: same options, same seed, same validation accuracy.
    replay = cli("sentiment", "--config", out / "best.yaml", "-o", tmp_path / "replay")
    assert replay.exit_code == 0, replay.output
    replayed = json.loads((tmp_path / "replay" / "metrics.json").read_text())["validation"]["accuracy"]
    assert replayed == pytest.approx(best["value"])
    html = (out / "report.html").read_text()
    assert 'alt="Optimization history"' in html and "data:image/png;base64," in html
    assert (out / "plots" / "optimization-history.png").is_file()
    # `ptrun runs` finds the trials inside the sweep folder.
    listed = cli("runs", out, "--json")
    assert sorted(r["run"] for r in json.loads(listed.output)) == sorted(str(out / t["run"]) for t in data["trials"])


def test_a_trial_worse_than_the_median_is_pruned_at_its_first_evaluation(cli, tiny_encoder, sentiment_files, tmp_path):
    # Two real trials create the study; three finished trials that scored 2.0 (more than any
    # accuracy) at every step then make the median unreachable, so the next trial must be pruned
    # at its first evaluation during training (--eval-steps), and stop training there.
    space = _space(tmp_path, "lr: {low: 1e-4, high: 1e-2, log: true}\n")
    out = tmp_path / "sweep"
    args = _sweep_args(tiny_encoder, sentiment_files, out, space, 2, "--eval-steps", "1")
    assert cli(*args).exit_code == 0
    study = optuna.load_study(study_name="sweep", storage=f"sqlite:///{out / 'study.db'}")
    distribution = optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)
    for _ in range(3):
        study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3}, distributions={"lr": distribution}, value=2.0,
                                                  intermediate_values={step: 2.0 for step in range(1, 20)}))
    args[args.index("--trials") + 1] = "6"
    result = cli(*args)
    assert result.exit_code == 0, result.output
    trial = json.loads((out / "trials.json").read_text())["trials"][-1]
    assert trial["number"] == 5 and trial["state"] == "pruned", trial
    metrics = json.loads((out / "trial-0005" / "metrics.json").read_text())
    evaluations = [row["step"] for row in metrics["history"] if "eval_accuracy" in row]
    assert evaluations == [1] and metrics["train"]["steps"] == 1  # stopped at the first evaluation
    assert "pruned" in result.stdout


def test_a_sweep_over_the_seeds_protocol_scores_each_trial_by_its_mean(cli, tiny_encoder, sentiment_files, tmp_path):
    space = _space(tmp_path, "lr: {low: 1e-4, high: 1e-2, log: true}\n")
    out = tmp_path / "sweep"
    result = cli(*_sweep_args(tiny_encoder, sentiment_files, out, space, 1, "--seeds", "1,2"))
    assert result.exit_code == 0, result.output
    trial = json.loads((out / "trials.json").read_text())["trials"][0]
    summary = json.loads((out / trial["run"] / "summary.json").read_text())
    values = [json.loads((out / trial["run"] / f"seed-{s}" / "metrics.json").read_text())["validation"]["accuracy"] for s in (1, 2)]
    assert summary["metrics"]["validation"]["accuracy"]["values"] == values
    assert trial["value"] == pytest.approx(sum(values) / 2)


def test_rerunning_continues_the_study_and_a_changed_space_is_refused(cli, tiny_encoder, sentiment_files, tmp_path):
    space = _space(tmp_path, "lr: {low: 1e-4, high: 1e-2, log: true}\n")
    out = tmp_path / "sweep"
    assert cli(*_sweep_args(tiny_encoder, sentiment_files, out, space, 1)).exit_code == 0
    again = cli(*_sweep_args(tiny_encoder, sentiment_files, out, space, 2))
    assert again.exit_code == 0, again.output
    assert [line.split()[1] for line in again.stdout.splitlines() if line.startswith("trial ")] == ["1"]
    assert sorted(p.name for p in out.glob("trial-*")) == ["trial-0000", "trial-0001"]
    other = _space(tmp_path, "lr: {low: 1e-5, high: 1e-2, log: true}\n")
    refused = cli(*_sweep_args(tiny_encoder, sentiment_files, out, other, 3))
    assert refused.exit_code == 1 and "was started with another space" in refused.output
    assert "--study-name" in refused.output


def test_sweep_errors_are_one_paragraph(cli, tiny_encoder, sentiment_files, tmp_path):
    space = _space(tmp_path, "lr: {low: 1e-4, high: 1e-2}\n")
    result = cli(*_sweep_args(tiny_encoder, sentiment_files, tmp_path / "a", space, 2, "--output-dir", tmp_path / "x"))
    assert result.exit_code == 1 and "--output-dir is not an option of a sweep" in result.output
    result = cli(*_sweep_args(tiny_encoder, sentiment_files, tmp_path / "b", space, 2, "--lr", "0.1"))
    assert result.exit_code == 1 and "--lr is both on the command line and in the search space" in result.output
    result = cli(*_sweep_args(tiny_encoder, sentiment_files, tmp_path / "c", space, 2, "--metric", "f1"))
    assert result.exit_code == 1 and "its first trial failed: --metric validation.f1: the run wrote no such metric" in result.output
    assert "Traceback" not in result.output


def test_a_bad_storage_is_an_error_and_passwords_are_hidden(cli, tiny_encoder, sentiment_files, tmp_path):
    from ptrun.run.sweep import shown_url

    assert shown_url("postgresql://ptrun:s3cret@db:5432/sweeps") == "postgresql://ptrun:***@db:5432/sweeps"
    assert shown_url("sqlite:///a.db") == "sqlite:///a.db"
    space = _space(tmp_path, "lr: {low: 1e-4, high: 1e-2}\n")
    result = cli(*_sweep_args(tiny_encoder, sentiment_files, tmp_path / "s", space, 2, "--storage", "nosuchdb://u:pw@h/x"))
    assert result.exit_code == 1 and "--storage nosuchdb://u:***@h/x: cannot open the study storage" in result.output
    assert "pw@" not in result.output and not list((tmp_path / "s").glob("trial-*"))


def _worker(tiny_encoder, sentiment_files, out, space, trials, storage):
    return subprocess.Popen(
        [sys.executable, "-m", "ptrun.cli", *map(str, _sweep_args(tiny_encoder, sentiment_files, out, space, trials,
                                                                  "--storage", storage, "--study-name", "shared"))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_workers_share_one_sqlite_study_and_run_each_trial_once(tiny_encoder, sentiment_files, tmp_path):
    space = _space(tmp_path, "lr: {low: 1e-4, high: 1e-2, log: true}\nbatch-size: [4, 8]\n")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    out = tmp_path / "sweep"
    space_args = [a for a in _sweep_args(tiny_encoder, sentiment_files, out, space, 4) if a != "--batch-size" and a != "8"]
    workers = [subprocess.Popen([sys.executable, "-m", "ptrun.cli", *map(str, space_args), "--storage", storage,
                                 "--study-name", "shared"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [e.splitlines()[-3:] for _o, e in outputs]
    ran = [int(line.split()[1]) for o, _e in outputs for line in o.splitlines() if line.startswith("trial ")]
    assert sorted(ran) == [0, 1, 2, 3]  # 4 trials between them, none twice
    assert all(any(line.startswith("trial ") for line in o.splitlines()) for o, _e in outputs)  # both worked
    study = optuna.load_study(study_name="shared", storage=storage)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) == 4 and sorted(t.user_attrs["run"] for t in finished) == [f"trial-000{i}" for i in range(4)]
    assert sorted(p.name for p in out.glob("trial-*")) == [f"trial-000{i}" for i in range(4)]


def test_ctrl_c_stops_after_the_current_trial(tiny_encoder, sentiment_files, tmp_path):
    space = _space(tmp_path, "lr: {low: 1e-4, high: 1e-2, log: true}\n")
    out = tmp_path / "sweep"
    worker = _worker(tiny_encoder, sentiment_files, out, space, 5, f"sqlite:///{tmp_path / 's.db'}")
    deadline = time.time() + 300
    while not (out / "trial-0000" / "config.json").is_file() and time.time() < deadline:
        time.sleep(0.2)
    worker.send_signal(signal.SIGINT)  # during trial 0
    stdout, stderr = worker.communicate(timeout=300)
    assert worker.returncode == 0, stderr[-2000:]
    assert "stops after the current trial" in stderr
    assert [line.split()[1] for line in stdout.splitlines() if line.startswith("trial ")] == ["0"]
    assert json.loads((out / "trial-0000" / "config.json").read_text())["status"] == "complete"
    assert [t["state"] for t in json.loads((out / "trials.json").read_text())["trials"]] == ["complete"]

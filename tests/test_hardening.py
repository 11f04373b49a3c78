"""Options refused before anything is written and
messages that point the right way."""

from __future__ import annotations

import pytest

from conftest import write


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--lr", "-1", "--lr -1.0: must be a finite number above 0"),
        ("--lr", "nan", "--lr nan: must be a finite number above 0"),
        ("--epochs", "inf", "--epochs inf: must be a finite number above 0"),
        ("--epochs", "0", "--eval-only"),
        ("--max-length", "100000", "more than the 128 positions"),
    ],
)
def test_bad_numbers_are_refused_before_the_run_folder(cli, tiny_encoder, tmp_path, option, value, message):
    out = tmp_path / "run"
    result = cli("sentiment", "--model", tiny_encoder, option, value, "--output-dir", out)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_an_output_dir_that_is_a_file_is_called_a_file(cli, tiny_encoder, tmp_path):
    target = write(tmp_path / "taken", "not a folder")
    result = cli("sentiment", "--model", tiny_encoder, "--eval-only", "--output-dir", target)
    assert result.exit_code == 1 and "is a file, not a folder" in result.output
    assert target.read_text() == "not a folder"


@pytest.mark.parametrize("line, state", [('{"text": null, "label": "positive"}', "null"), ('{"text": "", "label": "positive"}', "empty")])
def test_a_null_or_empty_text_is_called_that(tmp_path, line, state):
    import ptrun
    from ptrun import registry

    path = write(tmp_path / "d.jsonl", line + "\n")
    with pytest.raises(ptrun.DataError) as info:
        registry.get_task("sentiment").read(path)
    assert str(info.value).startswith(f"{path}:1: the text is {state} (field 'text')")


def test_results_on_stdout_progress_and_trainer_logs_on_stderr(tiny_encoder, tmp_path):
    from conftest import run_ptrun

    proc = run_ptrun("sentiment", "--model", tiny_encoder, "--epochs", 1, "--limit-train", 8, "--limit-eval", 4,
                     "--output-dir", tmp_path / "run")
    assert proc.returncode == 0, proc.stderr
    assert "accuracy" in proc.stdout and f"Run folder: {tmp_path / 'run'}" in proc.stdout
    assert "train_runtime" not in proc.stdout and "{'" not in proc.stdout  # the Trainer's dicts
    assert "train_runtime" in proc.stderr and "Training sentiment" in proc.stderr


def test_reports_of_eval_and_predict_only_runs_say_what_was_done(cli, tiny_encoder, tmp_path):
    predict = write(tmp_path / "p.tsv", "text\nfine film\n")
    out = tmp_path / "run"
    result = cli("sentiment", "--model", tiny_encoder, "--eval-only", "--limit-eval", 4, "--predict", predict, "--output-dir", out)
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "evaluated as it is (no training)" in report and f"predicted: `{predict}`" in report
    assert "lr " not in report and "epochs" not in report and "train `" not in report
    trained = tmp_path / "trained"
    result = cli("sentiment", "--model", tiny_encoder, "--epochs", 1, "--limit-train", 8, "--limit-eval", 4, "--output-dir", trained)
    assert result.exit_code == 0, result.output
    report = (trained / "report.md").read_text()
    assert "trained with `--method full`: lr 5e-05, epochs 1.0" in report and "train `" in report


def test_long_jobs_report_progress_lines_when_stderr_is_not_a_terminal(tiny_encoder, tmp_path):
    from conftest import run_ptrun

    lines = "".join(f"review number {i} was fine\tpositive\n" for i in range(40))
    test = write(tmp_path / "test.tsv", "text\tlabel\n" + lines)
    proc = run_ptrun("sentiment", "--model", tiny_encoder, "--eval-only", "--test", test, "--batch-size", 4,
                     "--output-dir", tmp_path / "run", env={"PTRUN_PROGRESS_SECONDS": "0"})
    assert proc.returncode == 0, proc.stderr
    progress = [l for l in proc.stderr.splitlines() if l.startswith("predict: ")]
    assert any("ex/s, ETA" in l and "(" in l for l in progress)  # periodic lines: count, rate, ETA
    assert progress[-1].startswith("predict: 40/40 ex in ")  # and a closing line
    assert "\r" not in proc.stderr.split("Training")[0]  # no carriage-return bars in a log file


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--method", "lora", "--lora-targets", "nosuch"], "--lora-targets nosuch: the model has no module of that name (its linear layers: dense, key, query, value)"),
        (["--method", "prompt-tuning", "--num-virtual-tokens", "200"], "--num-virtual-tokens 200 are more than the 128 positions"),
        (["--method", "p-tuning", "--max-length", "120", "--num-virtual-tokens", "20"], "--max-length 120 plus --num-virtual-tokens 20 is more than the 128 positions"),
        (["--method", "prefix-tuning"], "prefix tuning needs a model that takes past key values; bert models"),
    ],
)
def test_methods_that_cannot_train_this_model_are_refused_before_the_run_folder(cli, tiny_encoder, tmp_path, extra, message):
    out = tmp_path / "run"
    result = cli("sentiment", "--model", tiny_encoder, *extra, "--output-dir", out)
    assert result.exit_code == 1 and message in result.output and "Internal error" not in result.output, result.output
    assert not out.exists()


def test_a_run_that_fails_after_its_folder_exists_says_failed(cli, tiny_encoder, tmp_path, register_plugin):
    import json

    import ptrun

    class Broken(ptrun.TextClassificationTask):
        name = "broken"
        description = "a task whose model step raises"
        default_template = "sentiment/review"

        def predict(self, *args, **kwargs):
            raise RuntimeError("broken on purpose")

    class Plugin:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            return [Broken()]

    register_plugin(Plugin(), "broken-plugin")
    test = write(tmp_path / "t.tsv", "text\tlabel\nfine\tpositive\nbad\tnegative\n")
    out = tmp_path / "run"
    result = cli("broken", "--model", tiny_encoder, "--eval-only", "--test", test, "--output-dir", out)
    assert result.exit_code == 1 and "broken on purpose" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["status"] == "failed" and "RuntimeError: broken on purpose" in config["error"]
    assert config["failed_during"] == "evaluation of the test split"
    again = cli("broken", "--model", tiny_encoder, "--eval-only", "--test", test, "--output-dir", out)
    assert again.exit_code == 1 and "(a run with status failed)" in again.output

"""Training options reach the Trainer; evaluation during training with the task's metrics, early
stopping, the best checkpoint, the history in metrics.json and TensorBoard tracking (tiny models)."""

from __future__ import annotations

import json

import pytest

from conftest import read_metrics


def _cfg(task, files, model, out, **options):
    from ptrun.config import RunConfig

    data = {"train": str(files["train"]), "validation": str(files["dev"]), "test": str(files["test"])}
    return RunConfig(task=task, model=str(model), batch_size=4, output_dir=str(out), **data, **options)


def _callback(**hooks):
    from transformers import TrainerCallback

    return type("TestCallback", (TrainerCallback,), hooks)()


def test_each_training_option_reaches_the_trainer(tiny_encoder, sentiment_files, tmp_path):
    from ptrun.run.pipeline import run

    seen = {}

    def on_train_begin(self, args, state, control, **kwargs):
        seen["args"] = args

    cfg = _cfg("sentiment", sentiment_files, tiny_encoder, tmp_path / "run", warmup_ratio=0.25, weight_decay=0.05,
               lr_scheduler="constant-with-warmup", gradient_accumulation_steps=2, max_grad_norm=0.5, max_steps=3,
               logging_steps=1, eval_steps=2, epochs=5)
    run(cfg, callbacks=[_callback(on_train_begin=on_train_begin)])
    args = seen["args"]
    assert args.warmup_steps == 0.25 and args.weight_decay == 0.05
    assert args.lr_scheduler_type == "constant_with_warmup"
    assert (args.gradient_accumulation_steps, args.max_grad_norm, args.max_steps) == (2, 0.5, 3)
    assert (args.logging_steps, args.eval_steps, args.eval_strategy) == (1, 2, "steps")
    assert args.metric_for_best_model == "eval_accuracy" and args.report_to == []
    train = read_metrics(tmp_path / "run")["train"]
    assert train["steps"] == 3
    # 16 examples, 4 per batch, 2 batches per step: 2 steps an epoch, so 3 steps are 1.5 epochs.
    assert train["epochs_trained"] == 1.5


def test_warmup_steps_and_default_schedule(tiny_encoder, sentiment_files, tmp_path):
    from ptrun.run.pipeline import run

    rates = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if "learning_rate" in logs:
            rates.append(logs["learning_rate"])

    cfg = _cfg("sentiment", sentiment_files, tiny_encoder, tmp_path / "run", warmup_steps=4, lr=1e-3, max_steps=8,
               logging_steps=1)
    run(cfg, callbacks=[_callback(on_log=on_log)])
    assert rates[:4] == pytest.approx([0.0, 2.5e-4, 5e-4, 7.5e-4])  # linear warmup over 4 steps ...
    assert rates[4] == pytest.approx(1e-3) and rates[-1] < rates[4]  # ... then linear decay


def test_lr_scheduler_choices_are_transformers_schedulers():
    import torch
    from transformers import get_scheduler
    from transformers.trainer_utils import SchedulerType

    from ptrun.config import LR_SCHEDULERS

    values = {s.value for s in SchedulerType}
    for name in LR_SCHEDULERS:
        assert name.replace("-", "_") in values, name
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        get_scheduler(name.replace("-", "_"), optimizer, num_warmup_steps=1, num_training_steps=10)


def test_eval_steps_evaluate_with_the_tasks_metrics_and_the_history_is_kept(tiny_encoder, ner_files, tmp_path):
    from ptrun.run.pipeline import run

    evaluations = []

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        evaluations.append((state.global_step, dict(metrics)))

    out = tmp_path / "run"
    run(_cfg("ner", ner_files, tiny_encoder, out, epochs=2, eval_steps=2, logging_steps=1),
        callbacks=[_callback(on_evaluate=on_evaluate)])
    assert [step for step, _ in evaluations] == [2, 4, 6]  # 12 sentences / 4 = 3 steps an epoch
    assert {"eval_f1", "eval_precision", "eval_recall", "eval_token_accuracy"} <= set(evaluations[0][1])  # seqeval
    metrics = read_metrics(out)
    history = metrics["history"]
    losses = [row for row in history if "loss" in row]
    assert [row["step"] for row in losses] == [1, 2, 3, 4, 5, 6]
    assert {"loss", "learning_rate", "grad_norm", "epoch", "step"} <= set(losses[0])
    evals = [row for row in history if "eval_f1" in row]
    assert [(row["step"], row["eval_f1"]) for row in evals] == [(s, m["eval_f1"]) for s, m in evaluations]
    assert metrics["train"]["evaluations"] == 3
    # The last evaluation (step 6, the end of training) is the model the validation split scores.
    assert evals[-1]["eval_f1"] == metrics["validation"]["f1"]


def test_early_stopping_stops_when_the_metric_stops_improving(tiny_encoder, sentiment_files, tmp_path):
    from ptrun.run.pipeline import run

    # A learning rate this small changes no prediction: accuracy never improves after the first evaluation.
    out = tmp_path / "run"
    run(_cfg("sentiment", sentiment_files, tiny_encoder, out, epochs=10, lr=1e-12, eval_steps=1,
             early_stopping_patience=2))
    train = read_metrics(out)["train"]
    assert train["steps"] == 3 and train["stopped_early"] is True  # best at 1, no better at 2 and 3
    assert train["best_step"] == 1


def test_load_best_keeps_the_best_checkpoint(tiny_encoder, sentiment_files, tmp_path):
    """The evaluation at step 2 is made the best (a callback rewrites the scores the Trainer
    reads); the saved model and the test predictions must be that step's weights, not the last."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from ptrun.run.pipeline import run

    weights = {}

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        metrics["eval_accuracy"] = 0.9 if state.global_step == 2 else 0.1
        weights[state.global_step] = model.classifier.weight.detach().clone()

    out = tmp_path / "run"
    run(_cfg("sentiment", sentiment_files, tiny_encoder, out, epochs=2, lr=5e-3, eval_steps=1, load_best=True,
             save_total_limit=1), callbacks=[_callback(on_evaluate=on_evaluate)])
    train = read_metrics(out)["train"]
    assert (train["best_step"], train["best_metric"], train["kept"]) == (2, 0.9, "best")
    assert sorted(weights) == [1, 2, 3, 4, 5, 6, 7, 8]
    saved = AutoModelForSequenceClassification.from_pretrained(str(out / "model")).classifier.weight
    assert torch.allclose(saved, weights[2])
    assert not torch.allclose(saved, weights[8])  # the last step's weights differ: the check can fail
    assert not (out / "checkpoints").exists()  # kept only to go back to; model/ is the best one


def test_history_survives_a_crash(tiny_encoder, sentiment_files, tmp_path):
    from ptrun.run.pipeline import run

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 3:
            raise RuntimeError("power cut")

    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="power cut"):
        run(_cfg("sentiment", sentiment_files, tiny_encoder, out, epochs=5, logging_steps=1),
            callbacks=[_callback(on_step_end=on_step_end)])
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [row["step"] for row in history] == [1, 2]  # step 3 died before its log
    assert all(isinstance(row["loss"], float) and "learning_rate" in row for row in history)


def test_tensorboard_event_files_hold_the_loss_and_the_eval_metric(tiny_encoder, ner_files, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ptrun.run.pipeline import run

    out = tmp_path / "run"
    run(_cfg("ner", ner_files, tiny_encoder, out, epochs=1, eval_steps=3, logging_steps=1, report_to="tensorboard"))
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert "train/loss" in tags and "eval/f1" in tags, tags
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3]
    history = read_metrics(out)["history"]
    assert events.Scalars("eval/f1")[0].value == pytest.approx(next(r["eval_f1"] for r in history if "eval_f1" in r))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"load_best": True}, "--load-best need(s) evaluations during training"),
        ({"early_stopping_patience": 2}, "--early-stopping-patience need(s) evaluations"),
        ({"warmup_ratio": 0.1, "warmup_steps": 5}, "both set the warmup"),
        ({"eval_steps": 4, "load_best": True, "save_steps": 6}, "not a multiple of --eval-steps 4"),
        ({"eval_steps": 4, "validation": None}, "no validation split to evaluate on"),
    ],
)
def test_option_combinations_that_cannot_work_are_refused_before_anything_is_written(
        cli, tiny_encoder, sentiment_files, tmp_path, options, message):
    from ptrun.errors import PtrunError
    from ptrun.run.pipeline import run

    cfg = _cfg("sentiment", sentiment_files, tiny_encoder, tmp_path / "run")
    for key, value in options.items():
        setattr(cfg, key, value)
    with pytest.raises(PtrunError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(cfg)
    assert not (tmp_path / "run").exists()


def test_report_to_a_tracker_that_is_not_installed_says_what_to_install(cli, tiny_encoder, sentiment_files, tmp_path):
    import importlib.util

    if importlib.util.find_spec("wandb"):
        pytest.skip("wandb is installed here")
    result = cli("sentiment", "--train", sentiment_files["train"], "--model", tiny_encoder, "--report-to", "wandb",
                 "--output-dir", tmp_path / "run")
    assert result.exit_code == 1 and "wandb is not installed" in result.output and "pip install wandb" in result.output
    assert not (tmp_path / "run").exists()

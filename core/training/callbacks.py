"""What a run adds to the Trainer: the training history in metrics.json, early stopping, the
TensorBoard folder, and the figures of evaluation during training. Everything here uses
transformers' own callbacks and TrainerState; nothing is re-implemented."""

from __future__ import annotations

from ptrun.errors import PtrunError


def eval_metrics(values: dict, prefix: str, metric_for_best: str | None) -> dict:
    """The numeric entries of a task's metrics as ``<prefix>_<metric>`` (the Trainer's names);
    the main metric must be among them when it decides early stopping or the best checkpoint."""
    out = {
        f"{prefix}_{key}": value
        for key, value in values.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    if metric_for_best and metric_for_best not in out:
        name = metric_for_best.removeprefix(f"{prefix}_")
        raise PtrunError(
            f"--eval-steps: the task's main metric '{name}' is not among its evaluation metrics "
            f"({', '.join(k.removeprefix(prefix + '_') for k in out) or 'none'}).",
            hint="The task plugin's main_metric must name one of its metrics; fix or report the plugin.",
        )
    return out


def history_callback(path):
    """A TrainerCallback that rewrites ``path`` (metrics.json) as ``{"history": log_history}``
    after every log, so a run that dies keeps its curve. ``rows`` is the history so far."""
    from transformers import TrainerCallback

    from ptrun.run.folder import write_json

    class History(TrainerCallback):
        def __init__(self):
            self.rows: list[dict] = []

        def on_log(self, args, state, control, logs=None, **kwargs):
            # state.log_history already holds this log (the Trainer appends before on_log).
            self.rows = list(state.log_history)
            if state.is_world_process_zero:
                write_json(path, {"history": self.rows})

    return History()


def for_run(cfg, trainer, tensorboard_dir=None) -> list:
    """The callbacks ``cfg`` asks for: early stopping (``--early-stopping-patience``); and the
    run folder as TensorBoard's log folder (``--report-to tensorboard``)."""
    from transformers import EarlyStoppingCallback

    if tensorboard_dir is not None and cfg.report_to == "tensorboard":
        from transformers.integrations import TensorBoardCallback

        for callback in trainer.callback_handler.callbacks:
            # TENSORBOARD_LOGGING_DIR, when set, is the user's choice and stays.
            if isinstance(callback, TensorBoardCallback) and callback.logging_dir is None:
                callback.logging_dir = str(tensorboard_dir)
    if cfg.early_stopping_patience:
        return [EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience)]
    return []


def training_outcome(cfg, trainer, epochs_trained: float) -> dict:
    """What the evaluations during training decided, for metrics.json's ``train``."""
    state = trainer.state
    out = {"epochs_trained": round(epochs_trained, 4)}
    if cfg.eval_steps:
        key = trainer.args.metric_for_best_model
        evals = [row for row in state.log_history if key in row]
        best = max(evals, key=lambda row: row[key], default=None)  # the first of equals, as the Trainer keeps it
        out["evaluations"] = len(evals)
        out["best_metric"] = best[key] if best else None
        out["best_step"] = best["step"] if best else None
        if state.best_model_checkpoint:  # with checkpoints the Trainer's own choice is the record
            out["best_metric"] = state.best_metric
            out["best_step"] = int(state.best_model_checkpoint.rstrip("/").rsplit("-", 1)[-1])
        out["stopped_early"] = bool(cfg.early_stopping_patience) and state.global_step < state.max_steps
        out["kept"] = "best" if cfg.load_best and state.best_model_checkpoint else "last"
    return out

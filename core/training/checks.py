"""Training options that only make sense together, checked before anything is read or written
(single values are checked by their click types, on the command line and in config files)."""

from __future__ import annotations

import importlib.util

from ptrun.errors import PtrunError

#: --report-to value -> (modules, any one of which the Trainer's integration needs; pip package).
TRACKERS = {"tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"), "wandb": (("wandb",), "wandb"),
            "mlflow": (("mlflow",), "mlflow")}


def check(cfg) -> None:
    """Refuse combinations of training options a run cannot use."""
    from ptrun.training.contrastive import METHOD as SETFIT

    if cfg.method == SETFIT and (cfg.eval_steps or cfg.early_stopping_patience or cfg.load_best):
        raise PtrunError(
            "--eval-steps, --early-stopping-patience and --load-best do not apply to --method setfit: the task's "
            "metrics need its logistic-regression head, which is fitted after the contrastive stage, so there is "
            "nothing to evaluate during training.",
            hint="Leave them out; the finished run is evaluated on its validation and test splits.")
    if cfg.setfit_anchors and cfg.method != SETFIT:
        raise PtrunError(f"--setfit-anchors is an option of --method setfit, not --method {cfg.method}.",
                         hint="Add --method setfit, or leave --setfit-anchors out.")
    needs_eval = [flag for flag, on in (("--early-stopping-patience", cfg.early_stopping_patience),
                                        ("--load-best", cfg.load_best)) if on]
    if needs_eval and not cfg.eval_steps:
        raise PtrunError(f"{' and '.join(needs_eval)} need(s) evaluations during training.",
                         hint="Add --eval-steps N (and a validation split) to evaluate every N optimizer steps.")
    if cfg.warmup_ratio is not None and cfg.warmup_steps:
        raise PtrunError(f"--warmup-ratio {cfg.warmup_ratio} and --warmup-steps {cfg.warmup_steps} both set the warmup.",
                         hint="Give one of them.")
    if cfg.load_best and cfg.save_steps and cfg.save_steps % cfg.eval_steps:
        raise PtrunError(
            f"--load-best: --save-steps {cfg.save_steps} is not a multiple of --eval-steps {cfg.eval_steps}, so some "
            "evaluated steps would have no checkpoint to go back to.",
            hint=f"Use --save-steps {cfg.eval_steps * max(1, cfg.save_steps // cfg.eval_steps)}, or leave it out.",
        )
    if cfg.report_to in TRACKERS:
        modules, package = TRACKERS[cfg.report_to]
        if not any(importlib.util.find_spec(m) for m in modules):
            raise PtrunError(f"--report-to {cfg.report_to}: {package} is not installed.",
                             hint=f"pip install {package}, or use --report-to none.")
    if cfg.seeds and cfg.resume:
        raise PtrunError("--resume continues one run; it cannot be combined with --seeds.",
                         hint="Resume a seed's run folder on its own: --output-dir OUT/seed-N --seed N --resume.")


def check_splits(cfg, examples: dict) -> None:
    """Evaluating during training needs a validation split."""
    if cfg.eval_only or not cfg.eval_steps:
        return
    if not examples.get("validation"):
        raise PtrunError(f"--eval-steps {cfg.eval_steps}: there is no validation split to evaluate on.",
                         hint="Pass --validation FILE (or --data with a dev/validation file), or leave out --eval-steps.")

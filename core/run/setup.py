"""The steps a run and a predictor share: the model, the template, the data, the label map."""

from __future__ import annotations

from pathlib import Path

from ptrun import models
from ptrun.errors import PtrunError, TemplateError
from ptrun.log import echo
from ptrun.prompts.render import check_prompt_for_task
from ptrun.run import folder
from ptrun.tasks.labels import LabelMap

SPLITS = ("train", "validation", "test")
EVAL_SPLITS = ("validation", "test")


def apply_defaults(task, cfg) -> None:
    """Fill in what the task decides when the options leave it open."""
    from ptrun.training.methods import DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_WARMUP_RATIO

    if cfg.epochs is None:
        cfg.epochs = DEFAULT_EPOCHS.get(cfg.method) or task.default_epochs
    if cfg.warmup_ratio is None and not cfg.warmup_steps and cfg.method in DEFAULT_WARMUP_RATIO:
        cfg.warmup_ratio = DEFAULT_WARMUP_RATIO[cfg.method]
    if cfg.lr is None:
        # Adapters start from zero and need larger steps than full fine-tuning.
        cfg.lr = DEFAULT_LR.get(cfg.method) or task.default_lr


def check_options(cfg) -> None:
    """Refuse numbers a run cannot use, before anything is read or written."""
    import math

    if cfg.eval_only:
        return
    for name in ("lr", "epochs"):
        value = getattr(cfg, name)
        if value is not None and (not math.isfinite(value) or value <= 0):
            flag = "--" + name
            hint = "Pass --eval-only to evaluate without training." if name == "epochs" and value == 0 else None
            raise PtrunError(f"{flag} {value}: must be a finite number above 0.", hint=hint)
    from ptrun.training.checks import check

    check(cfg)


def check_max_length(cfg, resolved) -> None:
    """``--max-length`` must fit the model's positions (read from its config, nothing loaded)."""
    import json

    path = resolved.path
    if resolved.run_config and (path / "adapter_config.json").is_file():
        path = Path(resolved.run_config.get("base_model_path") or path)
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # the loader reports a model it cannot read
    positions = config.get("max_position_embeddings") or config.get("n_positions")
    if positions and cfg.max_length and cfg.max_length > positions:
        raise PtrunError(
            f"--max-length {cfg.max_length} is more than the {positions} positions model {resolved.name} takes.",
            hint=f"Use --max-length {positions} or less.",
        )
    from ptrun.tasks.base import SOFT_PROMPT_METHODS

    if positions and not cfg.eval_only and cfg.method in SOFT_PROMPT_METHODS:
        # The virtual tokens take positions too; past the model's last one the forward fails.
        # (Without --max-length, the inputs are as long as they are: only the tokens are checked.)
        room = positions - (cfg.max_length or 1)
        if cfg.num_virtual_tokens > room:
            given = f"--max-length {cfg.max_length} plus " if cfg.max_length else ""
            raise PtrunError(
                f"--method {cfg.method}: {given}--num-virtual-tokens {cfg.num_virtual_tokens} "
                f"{'is' if given else 'are'} more than the {positions} positions model {resolved.name} takes.",
                hint=f"Use --num-virtual-tokens {max(1, room)} or less" + (", or a shorter --max-length." if given else "."),
            )


def resolve_model(task, cfg) -> models.ResolvedModel:
    name = cfg.model or task.default_model
    if name is None:
        raise PtrunError(f"Task '{task.name}' names no default model.", hint="Pass --model.")
    resolved = models.resolve(name)
    if resolved.kind not in task.model_kinds:
        raise PtrunError(
            f"Task '{task.name}' cannot use {resolved.kind} models yet (--model {resolved.name}).",
            hint=f"Use a model of kind: {', '.join(task.model_kinds)}.",
        )
    if resolved.run_dir is not None and resolved.run_config.get("task") not in (None, task.name):
        raise PtrunError(f"--model {resolved.name} is a run of task '{resolved.run_config['task']}', not '{task.name}'.")
    if resolved.run_dir is not None and cfg.chat is None:
        # A causal LM was trained on prompts in one layout; it is evaluated in the same one.
        cfg.chat = resolved.run_config.get("chat_format")
    return resolved


def check_method(task, cfg, resolved) -> None:
    """Refuse, before anything is written, a method the task cannot train on this model."""
    from ptrun.training.methods import is_adapter_dir

    if cfg.eval_only:
        return
    reason = task.unsupported(cfg.method, resolved.kind)
    if not reason and cfg.method == "prefix-tuning":
        from ptrun.training.methods import prefix_tuning_problem

        reason = prefix_tuning_problem(resolved.path, resolved.kind)
    if not reason and cfg.method in ("lora", "adalora") and not (resolved.path / "adapter_config.json").is_file():
        from ptrun.training.methods import lora_target_problem

        reason = lora_target_problem(resolved.path, cfg.lora_targets)
    if reason:
        raise PtrunError(f"--method {cfg.method}: {reason}.", hint="See `ptrun TASK --help` for the methods.")
    if resolved.run_dir is not None and is_adapter_dir(resolved.path):
        raise PtrunError(
            f"--model {resolved.name} is a {resolved.run_config.get('method')} run (an adapter); training it further is not supported yet.",
            hint="Use --eval-only, or train a new run from its base model.",
        )


def resolve_prompt(task, cfg, resolved):
    """The template of the run: ``--template``, a run folder's own, or the task's default for
    the model kind; None for ``--template none``."""
    from ptrun.prompts.templates import load_prompt

    dirs = list(cfg.template_dirs)
    ref = cfg.template
    if resolved.run_dir is not None:
        dirs.insert(0, str(resolved.run_dir / folder.TEMPLATES))
        if ref is None:
            ref = resolved.run_config.get("template")
            if ref is None:
                return None
    if ref is None:
        ref = task.template_for(resolved.kind)
    if ref is None or ref == "none":
        return None
    prompt = load_prompt(ref, dirs)
    check_prompt_for_task(prompt, task)
    if prompt.model_kinds and resolved.kind not in prompt.model_kinds:
        raise TemplateError(
            f"this template is for {', '.join(prompt.model_kinds)} models, but --model "
            f"{resolved.name} is a {resolved.kind}",
            path=prompt.path,
            hint="Pick a template made for this kind of model (`ptrun templates`).",
        )
    return prompt


def resolve_splits(task, cfg, *, quiet: bool = False) -> dict[str, Path]:
    from ptrun.data.splits import find_splits

    explicit = {s: Path(getattr(cfg, s)) for s in SPLITS if getattr(cfg, s)}
    if cfg.data:
        return {**find_splits(cfg.data, task), **explicit}
    if explicit:
        return explicit
    if cfg.predict:
        return {}
    demo = task.demo_data()
    if demo is None:
        raise PtrunError(
            f"No data given and task '{task.name}' ships no demo data.",
            hint="Pass --data DIR or --train/--validation/--test files.",
        )
    if not quiet:
        echo(f"No data given: using the demo data shipped with task '{task.name}' ({demo}).")
    return find_splits(demo, task)


def read_splits(task, cfg, paths: dict[str, Path]) -> dict[str, list]:
    examples = {}
    for split, path in paths.items():
        items = task.read(path, cfg.format)
        limit = cfg.limit_train if split == "train" else cfg.limit_eval
        examples[split] = items[:limit] if limit is not None else items
    return examples


def build_label_map(task, prompt, examples: dict, run_dir: Path | None = None) -> LabelMap:
    """A run folder's label map, else a plugin's (``ptrun_label_map``), else the task's own."""
    from ptrun import registry

    if run_dir is not None and (run_dir / folder.LABEL_MAP).is_file():
        return LabelMap.load(run_dir / folder.LABEL_MAP)
    source = examples.get("train")
    if source is None:
        # Evaluating a model that ptrun did not train: the labels come from the eval data.
        source = [ex for split in EVAL_SPLITS for ex in examples.get(split, [])]
    labels = sorted({label for ex in source for label in task.labels_of(ex)})
    override = registry.first_result("ptrun_label_map", task=task, labels=labels, prompt=prompt)
    if override is not None and not isinstance(override, LabelMap):
        raise PtrunError(
            f"A plugin's ptrun_label_map returned a {type(override).__name__} for task '{task.name}', not a LabelMap.",
            hint="Fix or uninstall that plugin (`ptrun plugins` lists them).",
        )
    return override if override is not None else task.label_map(labels, prompt)


def check_labels(task, examples: dict, label_map: LabelMap, from_run: bool) -> None:
    for items in examples.values():
        for ex in items:
            for label in task.labels_of(ex):
                if label_map.canonical(label) is None:
                    raise ex.error(
                        f"label '{label}' is not in the label map ({', '.join(label_map.labels)})",
                        hint="Fix the label, or train on data that contains it"
                        + (" (the label map comes from the model's run folder)." if from_run else "."),
                    )

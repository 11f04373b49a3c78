"""Running a task end to end: data -> template -> model -> train -> predict -> run folder."""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

from ptrun import metrics as metrics_mod
from ptrun import models, registry, rundir
from ptrun import plugin_manager as plugins
from ptrun.errors import PtrunError, TemplateError
from ptrun.labels import LabelMap
from ptrun.prompts import Prompt, load_prompt

CORE_VARIABLES = {
    "labels": "the task's labels in id order",
    "label_words": "the verbalizer word of each label, in id order",
    "task": "the task's name",
    "demos": "few-shot demonstrations (--shots K): a list of the demonstration examples' variables, "
    "each with its rendered `input` and `target`",
}
SPLITS = ("train", "validation", "test")
EVAL_SPLITS = ("validation", "test")


@dataclass
class RunConfig:
    task: str
    data: str | None = None
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    predict: str | None = None
    format: str | None = None
    model: str | None = None
    template: str | None = None
    template_dirs: tuple = ()
    epochs: float | None = None
    lr: float | None = None
    batch_size: int = 16
    max_length: int | None = None
    seed: int = 42
    output_dir: str | None = None
    limit_train: int | None = None
    limit_eval: int | None = None
    eval_only: bool = False
    overwrite: bool = False
    group_by_length: bool = True
    method: str = "full"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    lora_targets: str | None = None
    num_virtual_tokens: int = 20
    save_steps: int | None = None
    save_total_limit: int | None = 2
    resume: bool = False
    bf16: bool = False
    fp16: bool = False
    gradient_checkpointing: bool = False
    device: str = "auto"
    # causal language models
    inference: str = "auto"
    chat: bool | None = None
    shots: int = 0
    balanced_shots: bool = False
    calibrate: bool = False
    length_norm: bool = True
    max_new_tokens: int | None = None
    extra: dict = field(default_factory=dict)


def echo(message: str = "") -> None:
    """Progress and summaries, from the main process only (one copy in a distributed run)."""
    if rundir.is_main_process():
        click.echo(message, err=True)


def _library_versions() -> dict:
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for dist in ("ptrun", "torch", "transformers", "accelerate", "jinja2", "pluggy", "seqeval"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return versions


# --------------------------------------------------------------------------- template


def resolve_prompt(task, cfg: RunConfig, resolved: models.ResolvedModel) -> Prompt | None:
    dirs = list(cfg.template_dirs)
    ref = cfg.template
    if resolved.run_dir is not None:
        dirs.insert(0, str(resolved.run_dir / "templates"))
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


def check_prompt_for_task(prompt: Prompt, task) -> None:
    """Raise TemplateError when the template reads a variable the task does not provide."""
    allowed = set(task.variables) | set(CORE_VARIABLES)
    unknown = {n: loc for n, loc in prompt.variable_locations().items() if n not in allowed}
    if unknown:
        path, line = min(unknown.values(), key=lambda loc: (loc[0] != prompt.path, loc[1]))
        raise TemplateError(
            f"undefined variable(s) {', '.join(sorted(unknown))}: task '{task.name}' provides "
            f"{', '.join(sorted(allowed))}",
            path=path,
            line=line,
            hint="Fix the variable name in the template.",
        )
    task.check_prompt(prompt)


def render_context(task, example, label_map: LabelMap | None) -> dict:
    ctx = task.context(example, label_map)
    for _plugin, extra in plugins.call_each("ptrun_render_context", task=task, example=example):
        ctx.update(extra)
    if label_map is not None:
        ctx.setdefault("labels", list(label_map.labels))
        ctx.setdefault("label_words", [label_map.word(l) for l in label_map.labels])
    ctx.setdefault("task", task.name)
    return ctx


def render_all(task, prompt: Prompt | None, examples, label_map, demos: list | None = None) -> list:
    """Render ``examples``; with ``demos`` (demonstration examples) each prompt shows them and
    can be re-rendered with fewer (``Rendered.with_demos(k)``)."""
    if prompt is None:
        return [None] * len(examples)
    demo_vars = demo_contexts(task, prompt, demos or [], label_map)
    out = []
    for ex in examples:
        ctx = render_context(task, ex, label_map)
        out.append(_render(prompt, ctx, ex, demo_vars))
    return out


def _render(prompt: Prompt, ctx: dict, ex, demo_vars: list, k: int | None = None):
    k = len(demo_vars) if k is None else k
    try:
        rendered = prompt.render({**ctx, "demos": demo_vars[:k]}, target=ex.labeled)
    except TemplateError as exc:
        where = f" (while rendering example {ex.id} from {ex.path}:{ex.line})" if ex.path else ""
        raise TemplateError(exc.message + where, path=exc.path, line=exc.line, hint=exc.hint) from None
    rendered.demos = min(k, len(demo_vars))
    rendered.with_demos = lambda fewer: _render(prompt, ctx, ex, demo_vars, fewer)
    return rendered


def demo_contexts(task, prompt: Prompt, demos: list, label_map) -> list[dict]:
    """Template variables of each demonstration, plus its own rendered ``input`` and ``target``."""
    if demos and "demos" not in prompt.variables():
        raise TemplateError(
            "--shots needs a template that lays out demonstrations (it never reads `demos`)",
            path=prompt.path,
            hint="Pick a few-shot template (`ptrun templates`) or add a `{% for d in demos %}` loop.",
        )
    out = []
    for ex in demos:
        ctx = render_context(task, ex, label_map)
        r = _render(prompt, ctx, ex, [])
        out.append({**ctx, "input": r.input, "target": r.target or ""})
    return out


def select_demos(task, train: list, k: int, seed: int, balanced: bool) -> list:
    """``k`` demonstrations from the training examples, seeded; ``balanced`` takes them round-robin
    over the labels (as evenly as the data allows)."""
    if k <= 0:
        return []
    if not train:
        raise PtrunError("--shots needs training examples to draw demonstrations from.", hint="Pass --train or --data.")
    rng = random.Random(seed)
    pool = list(train)
    rng.shuffle(pool)
    if not balanced:
        return pool[:k]
    by_label: dict = {}
    for ex in pool:
        by_label.setdefault(tuple(task.labels_of(ex)[:1]), []).append(ex)
    chosen, groups = [], [by_label[key] for key in sorted(by_label)]
    while len(chosen) < min(k, len(pool)):
        for group in groups:
            if group and len(chosen) < k:
                chosen.append(group.pop(0))
    rng.shuffle(chosen)
    return chosen


# --------------------------------------------------------------------------- data


def resolve_splits(task, cfg: RunConfig) -> dict[str, Path]:
    from ptrun.data import find_splits

    explicit = {s: getattr(cfg, s) for s in SPLITS if getattr(cfg, s)}
    if cfg.data:
        splits = find_splits(cfg.data, task.extensions)
        splits.update({s: Path(p) for s, p in explicit.items()})
        return splits
    if explicit:
        return {s: Path(p) for s, p in explicit.items()}
    if cfg.predict:
        return {}
    demo = task.demo_data()
    if demo is None:
        raise PtrunError(
            f"No data given and task '{task.name}' ships no demo data.",
            hint="Pass --data DIR or --train/--validation/--test files.",
        )
    echo(f"No data given: using the demo data shipped with task '{task.name}' ({demo}).")
    return find_splits(demo, task.extensions)


def read_splits(task, cfg: RunConfig, paths: dict[str, Path]) -> dict[str, list]:
    examples = {}
    for split, path in paths.items():
        items = task.read(path, cfg.format)
        limit = cfg.limit_train if split == "train" else cfg.limit_eval
        if limit is not None:
            items = items[:limit]
        examples[split] = items
    return examples


def build_label_map(task, prompt, examples: dict, run_dir: Path | None = None) -> LabelMap:
    if run_dir is not None and (run_dir / "label_map.json").is_file():
        return LabelMap.load(run_dir / "label_map.json")
    source = examples.get("train")
    if source is None:
        # Evaluating a model that ptrun did not train: the labels come from the eval data.
        source = [ex for split in EVAL_SPLITS for ex in examples.get(split, [])]
    labels = sorted({label for ex in source for label in task.labels_of(ex)})
    label_map = plugins.pm.hook.ptrun_label_map(task=task, labels=labels, prompt=prompt)
    if label_map is None:
        choices = prompt.answer_choices if prompt is not None else None
        if isinstance(choices, list):
            choices = dict(zip(task.labels or labels, choices))
        label_map = LabelMap.for_classes(labels, choices)
    return label_map


def check_labels(task, examples: dict, label_map: LabelMap) -> None:
    for split, items in examples.items():
        for ex in items:
            for label in task.labels_of(ex):
                if label_map.canonical(label) is None:
                    raise ex.error(
                        f"label '{label}' is not in the label map ({', '.join(label_map.labels)})",
                        hint="Fix the label, or train on data that contains it"
                        + (" (the label map comes from the model's run folder)." if split != "train" else "."),
                    )


# --------------------------------------------------------------------------- the run


def set_seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run(cfg: RunConfig) -> Path:
    """Run ``cfg`` and return the run folder."""
    task = registry.get_task(cfg.task)
    broken = {info.name for info in plugins.load_errors()}
    for info in plugins.load_errors():
        echo(f"warning: plugin '{info.name}' is broken and was skipped: {info.error} (see `ptrun plugins`)")
    cfg.epochs = cfg.epochs if cfg.epochs is not None else getattr(task, "default_epochs", 3.0)
    if cfg.lr is None:
        # Adapters start from zero and need larger steps than full fine-tuning.
        from ptrun.methods import DEFAULT_LR

        cfg.lr = DEFAULT_LR.get(cfg.method) or getattr(task, "default_lr", 5e-5)

    resolved = models.resolve(cfg.model or task.default_model)
    if resolved.kind not in task.model_kinds:
        raise PtrunError(
            f"Task '{task.name}' cannot use {resolved.kind} models yet (--model {resolved.name}).",
            hint=f"Use a model of kind: {', '.join(task.model_kinds)}.",
        )
    if resolved.run_dir is not None and resolved.run_config.get("task") not in (None, task.name):
        raise PtrunError(
            f"--model {resolved.name} is a run of task '{resolved.run_config['task']}', not '{task.name}'."
        )
    if resolved.run_dir is not None and cfg.chat is None:
        # A causal LM was trained on prompts in one layout; it is evaluated in the same one.
        cfg.chat = resolved.run_config.get("chat_format")
    prompt = resolve_prompt(task, cfg, resolved)

    split_paths = resolve_splits(task, cfg)
    examples = read_splits(task, cfg, split_paths)
    if not cfg.eval_only and "train" not in examples:
        raise PtrunError(
            "No training data: pass --train (or --data with a train file), or --eval-only to evaluate as is."
        )
    predict_examples = task.read(cfg.predict, cfg.format, labeled=False) if cfg.predict else None
    if cfg.predict and cfg.limit_eval is not None:
        predict_examples = predict_examples[: cfg.limit_eval]

    label_map = build_label_map(task, prompt, examples, resolved.run_dir)
    check_labels(task, examples, label_map)
    if cfg.shots and resolved.kind != "causal-lm":
        raise PtrunError("--shots (demonstrations in the prompt) is for causal language models.")
    demos = select_demos(task, examples.get("train", []), cfg.shots, cfg.seed, cfg.balanced_shots)
    if cfg.eval_only:
        examples.pop("train", None)
    # Training prompts stay zero-shot; demonstrations go into the prompts the model answers.
    rendered = {
        split: render_all(task, prompt, items, label_map, demos if split != "train" else None)
        for split, items in examples.items()
    }
    if predict_examples is not None:
        rendered["predict"] = render_all(task, prompt, predict_examples, label_map, demos)
    if resolved.kind == "causal-lm":
        from ptrun.causal_task import CausalLMBackend

        demo_vars = demo_contexts(task, prompt, demos, label_map) if prompt is not None else []
        backend = CausalLMBackend(
            task, cfg, prompt, lambda ex, k: _render(prompt, render_context(task, ex, label_map), ex, demo_vars, k), echo
        )
    else:
        backend = task
        cfg.max_length = cfg.max_length or 128

    out = Path(cfg.output_dir) if cfg.output_dir else rundir.default_output_dir(task.name)
    if resolved.run_dir is not None and out.resolve() == resolved.run_dir.resolve():
        raise PtrunError("--output-dir must differ from the run folder given as --model.")
    if cfg.resume:
        if not cfg.output_dir:
            raise PtrunError("--resume needs the --output-dir of the run to continue.")
        previous = _resumable(out, cfg)
    else:
        out = rundir.prepare(out, cfg.overwrite)
    config = {
        "ptrun_version": _library_versions().get("ptrun", "unknown"),
        "status": "running",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "task": task.name,
        "task_plugin": task.plugin,
        "model": cfg.model or task.default_model,
        "model_path": str(resolved.path),
        "model_kind": resolved.kind,
        "method": cfg.method if not cfg.eval_only else None,
        "inference": None,
        "demonstrations": [ex.id for ex in demos],
        "base_model_path": (resolved.run_config or {}).get("base_model_path") or str(resolved.path),
        "template": None,
        "template_source": prompt.name if prompt else None,
        "template_sha256": prompt.sha256 if prompt else None,
        "data": {split: str(p) for split, p in split_paths.items()},
        "examples": {split: len(items) for split, items in examples.items()},
        "label_map": label_map.to_dict(),
        "config": asdict(cfg),
        "versions": _library_versions(),
        "command": sys.argv,
    }
    if prompt is not None:
        config["template"] = prompt.save_bundle(out / "templates")
    if cfg.resume:
        config["started"] = previous.get("started", config["started"])
        config["resumed"] = previous.get("resumed", []) + [time.strftime("%Y-%m-%dT%H:%M:%S%z")]
    rundir.write_json(out / "config.json", config)

    from ptrun import methods
    from ptrun.infer import pick_device

    target_device = pick_device(cfg.device, bf16=cfg.bf16, fp16=cfg.fp16)
    set_seed(cfg.seed)

    if resolved.run_dir is not None and methods.is_adapter_dir(resolved.path):
        # A LoRA run keeps only its adapter: rebuild the base model, then attach it.
        model, tokenizer = backend.load(Path(resolved.run_config["base_model_path"]), label_map, trained=False)
        model = methods.load_adapter(model, resolved.path)
        if not cfg.eval_only:
            raise PtrunError(
                f"--model {resolved.name} is a {resolved.run_config.get('method')} run (an adapter); training it further is not supported yet.",
                hint="Use --eval-only, or train a new run from its base model.",
            )
    else:
        model, tokenizer = backend.load(resolved.path, label_map, trained=resolved.run_dir is not None)
    if resolved.kind == "causal-lm":
        config["chat_format"] = backend.layout.chat
    if not cfg.eval_only:
        steps = int(-(-len(examples["train"]) // cfg.batch_size) * cfg.epochs)  # AdaLoRA's schedule
        model = methods.apply(model, backend, cfg, echo, prompt=prompt, n_steps=steps)
    features = {
        split: backend.encode(items, rendered[split], tokenizer, label_map, cfg.max_length)
        for split, items in examples.items()
    }

    results: dict = {}
    if not cfg.eval_only:
        from ptrun.train import train

        echo(f"Training {task.name} on {len(features['train'])} examples for {cfg.epochs:g} epoch(s)...")
        results["train"] = train(
            model, tokenizer, features["train"], backend.collator(tokenizer), cfg, out / "checkpoints",
            causal=resolved.kind == "causal-lm",
        )
        _remove_empty(out / "checkpoints")
    else:
        model.to(target_device)

    for split in EVAL_SPLITS:
        if split not in examples:
            continue
        items = examples[split]
        preds = backend.predict(model, tokenizer, items, features[split], label_map, cfg.batch_size)
        refs = [task.reference(ex) for ex in items]
        if label_map.kind == "classes":
            # Data may spell labels as ids or aliases ("1"); records and metrics use label names.
            refs = [label_map.canonical(r) or r for r in refs]
        results[split] = metrics_mod.compute(task, preds, refs, label_map)
        if resolved.kind == "causal-lm":
            results[split].update(backend.split_metrics())
            if task.lm_perplexity:
                results[split].update(backend.target_perplexity(model, tokenizer, features[split], cfg.batch_size))
            config["inference"] = backend.inference_used
        rundir.write_jsonl(
            out / "predictions" / f"{split}.jsonl",
            [backend.prediction_record(ex, p, r) for ex, p, r in zip(items, preds, refs)],
        )
    if predict_examples is not None:
        feats = backend.encode(predict_examples, rendered["predict"], tokenizer, label_map, cfg.max_length)
        preds = backend.predict(model, tokenizer, predict_examples, feats, label_map, cfg.batch_size)
        rundir.write_jsonl(
            out / "predictions" / "predict.jsonl",
            [backend.prediction_record(ex, p, None) for ex, p in zip(predict_examples, preds)],
        )

    if not cfg.eval_only and rundir.is_main_process():
        model.save_pretrained(out / "model")
        tokenizer.save_pretrained(out / "model")
    label_map.save(out / "label_map.json")
    rundir.write_json(out / "metrics.json", results)
    config.update(status="complete", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    rundir.write_json(out / "config.json", config)

    for info in plugins.load_errors():
        if info.name not in broken:  # a hook that raised during this run (a metric, say)
            echo(f"warning: plugin '{info.name}' failed during the run and its results are missing: {info.error}")

    from ptrun.report import summary_table, write_report

    write_report(out, task, config, results)
    echo("")
    echo(summary_table(task, results))
    echo(f"\nRun folder: {out}")
    return out


#: Settings that may differ when a run is resumed; everything else must match the first start.
RESUME_MAY_CHANGE = {"resume", "overwrite", "output_dir", "save_total_limit", "device", "gradient_checkpointing"}


def _resumable(out: Path, cfg: RunConfig) -> dict:
    """The config of the run in ``out``, after checking that ``cfg`` can continue it."""
    config_path = out / "config.json"
    if not config_path.is_file() or not any((out / "checkpoints").glob("checkpoint-*")):
        raise PtrunError(
            f"--resume: {out} holds no checkpoint to resume from.",
            hint="Pass the --output-dir of a run started with --save-steps.",
        )
    previous = json.loads(config_path.read_text(encoding="utf-8"))
    before = previous.get("config", {})
    now = json.loads(json.dumps(asdict(cfg), default=str))  # as it was stored (tuples become lists)
    changed = sorted(k for k in now if k not in RESUME_MAY_CHANGE and before.get(k) != now[k])
    if changed:
        details = ", ".join(f"{k}: {before.get(k)!r} -> {now[k]!r}" for k in changed)
        raise PtrunError(
            f"--resume: the options differ from the run being resumed ({details}).",
            hint="Resume with the same options the run was started with.",
        )
    return previous


def _remove_empty(path: Path) -> None:
    # The run folder belongs to the main process; another rank must not race it here.
    if rundir.is_main_process() and path.is_dir() and not any(path.iterdir()):
        path.rmdir()


def export_run(run: str, output_dir: str, overwrite: bool = False) -> Path:
    """Write a LoRA run as a standalone run folder with the adapter merged into the model."""
    import shutil

    from ptrun import methods

    resolved = models.resolve(run)
    if resolved.run_dir is None:
        raise PtrunError(f"ptrun export: {run} is not a ptrun run folder.")
    if not methods.is_adapter_dir(resolved.path):
        raise PtrunError(
            f"ptrun export --merge: {run} holds a full model, not an adapter; there is nothing to merge.",
            hint="Use the run folder as it is (--model RUN).",
        )
    if resolved.run_config.get("method") not in methods.MERGEABLE:
        raise PtrunError(
            f"ptrun export --merge: a {resolved.run_config.get('method')} run cannot be merged into the "
            f"model's weights (only {', '.join(methods.MERGEABLE)} adapters can).",
            hint="Load it with --model RUN, which attaches the adapter to its base model.",
        )
    task = registry.get_task(resolved.run_config["task"])
    label_map = LabelMap.load(resolved.run_dir / "label_map.json")
    model, tokenizer = task.load(Path(resolved.run_config["base_model_path"]), label_map, trained=False)
    model = methods.load_adapter(model, resolved.path).merge_and_unload()
    out = rundir.prepare(Path(output_dir), overwrite)
    model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    for name in ("templates",):
        if (resolved.run_dir / name).is_dir():
            shutil.copytree(resolved.run_dir / name, out / name)
    label_map.save(out / "label_map.json")
    config = dict(resolved.run_config)
    config.update(method="lora-merged", merged_from=str(resolved.run_dir), base_model_path=str(out / "model"))
    rundir.write_json(out / "config.json", config)
    return out

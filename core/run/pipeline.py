"""A run end to end: data -> template -> model -> train -> predict -> run folder.

Each step is a function of :mod:`ptrun.run.setup` or of the backend; nothing here depends on
the task or on the model kind.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict
from pathlib import Path

from ptrun import registry
from ptrun.errors import PtrunError
from ptrun.log import echo, is_main_process, result
from ptrun.run import baseline, folder, setup
from ptrun.run.setup import EVAL_SPLITS


def set_seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _warn_broken() -> set[str]:
    broken = set()
    for info in registry.load_errors():
        broken.add(info.name)
        echo(f"warning: plugin '{info.name}' is broken and was skipped: {info.error} (see `ptrun plugins`)")
    return broken


def _output_dir(task, cfg, resolved) -> tuple[Path, dict | None]:
    out = Path(cfg.output_dir) if cfg.output_dir else folder.default_output_dir(task.name)
    if resolved.run_dir is not None and out.resolve() == resolved.run_dir.resolve():
        raise PtrunError("--output-dir must differ from the run folder given as --model.")
    if cfg.resume:
        if not cfg.output_dir:
            raise PtrunError("--resume needs the --output-dir of the run to continue.")
        folder.lock(out)
        return out, folder.resumable(out, asdict(cfg))
    return folder.prepare(out, cfg.overwrite), None


def run(cfg, callbacks=()) -> Path:
    """Run ``cfg`` (a :class:`ptrun.config.RunConfig`) and return the run folder.

    ``callbacks``: transformers TrainerCallbacks added to the training (with ``--eval-steps``
    their ``on_evaluate`` receives the task's metrics as ``eval_<metric>``)."""
    from ptrun.run import interrupt

    try:
        return _run(cfg, callbacks)
    except BaseException as exc:
        interrupt.finish(exc)
        raise
    finally:
        interrupt.unwatch()
        folder.release()


def _run(cfg, callbacks=()) -> Path:
    from ptrun.backends import backend_class
    from ptrun.backends.device import pick_device
    from ptrun.backends.loading import load_for_run
    from ptrun.predictor import Predictor
    from ptrun.prompts.render import Renderer, select_demos
    from ptrun.run import interrupt
    from ptrun.training import contrastive

    task = registry.get_task(cfg.task)
    broken = _warn_broken()
    setup.check_options(cfg)
    setup.apply_defaults(task, cfg)
    resolved = setup.resolve_model(task, cfg)
    setup.check_method(task, cfg, resolved)
    setup.check_max_length(cfg, resolved)
    Backend = backend_class(resolved.kind)
    if cfg.shots and not Backend.takes_demonstrations:
        raise PtrunError(f"--shots (demonstrations in the prompt) is for causal language models, not {resolved.kind} models.")
    prompt = setup.resolve_prompt(task, cfg, resolved)

    split_paths = setup.resolve_splits(task, cfg)
    examples = setup.read_splits(task, cfg, split_paths)
    if not cfg.eval_only and "train" not in examples:
        raise PtrunError("No training data: pass --train (or --data with a train file), or --eval-only to evaluate as is.")
    if cfg.k_per_class:
        from ptrun.run.seeds import draw_k_per_class

        examples["train"] = draw_k_per_class(task, examples.get("train"), cfg.k_per_class, cfg.seed, split_paths.get("train"))
    from ptrun.training.checks import check_splits

    check_splits(cfg, examples)
    predict_examples = task.read(cfg.predict, cfg.format, labeled=False) if cfg.predict else None
    if predict_examples is not None and cfg.limit_eval is not None:
        predict_examples = predict_examples[: cfg.limit_eval]
    label_map = setup.build_label_map(task, prompt, examples, resolved.run_dir)
    setup.check_labels(task, examples, label_map, from_run=resolved.run_dir is not None)
    demos = select_demos(task, examples.get("train", []), cfg.shots, cfg.seed, cfg.balanced_shots)
    if cfg.eval_only:
        examples.pop("train", None)
    renderer = Renderer(task, prompt, label_map, demos)
    backend = Backend(task, cfg, renderer, echo)
    # Training prompts stay zero-shot; demonstrations go into the prompts the model answers.
    rendered = {split: renderer.render_all(items, demos=split != "train") for split, items in examples.items()}
    anchors = None
    if cfg.method == contrastive.METHOD and not cfg.eval_only:  # checked and rendered before the run folder exists
        anchors = contrastive.resolve_anchors(cfg, task, examples["train"][0], label_map, renderer, echo)

    target_device = pick_device(cfg.device, bf16=cfg.bf16, fp16=cfg.fp16)
    out, previous = _output_dir(task, cfg, resolved)
    config = folder.new_config(task, cfg, resolved, prompt, demos, split_paths, examples, label_map)
    if prompt is not None:
        config["template"] = prompt.save_bundle(out / folder.TEMPLATES)
    if previous is not None:
        config["started"] = previous.get("started", config["started"])
        config["resumed"] = previous.get("resumed", []) + [time.strftime("%Y-%m-%dT%H:%M:%S%z")]
    folder.write_json(out / folder.RUN_CONFIG, config)
    interrupt.watch(out, config, cfg)

    set_seed(cfg.seed)
    model, tokenizer = load_for_run(backend, resolved, label_map)
    results: dict = {}
    if cfg.baseline and not cfg.eval_only:  # the untrained starting point, on the same splits
        results["baseline"] = baseline.evaluate(Predictor(task, backend, renderer, label_map, model.to(target_device), tokenizer, cfg, resolved), examples, rendered, out)
    if not cfg.eval_only:
        def evaluate(trained):  # the validation split, through the same Predictor as the final evaluation
            predictor = Predictor(task, backend, renderer, label_map, trained, tokenizer, cfg, resolved)
            return predictor.evaluate(examples["validation"], rendered["validation"])[0]

        from ptrun.training.callbacks import history_callback

        history = history_callback(out / folder.METRICS)
        model, results["train"] = _train(task, cfg, backend, model, tokenizer, examples["train"], rendered["train"], label_map, prompt, out,
                                         callbacks=(history, *callbacks), evaluate=evaluate, anchors=anchors)
    else:
        model.to(target_device)

    predictor = Predictor(task, backend, renderer, label_map, model, tokenizer, cfg, resolved)
    for split in EVAL_SPLITS:
        if split in examples:
            interrupt.phase(f"evaluation of the {split} split")
            results[split], records = predictor.evaluate(examples[split], rendered[split])
            folder.write_jsonl(out / folder.PREDICTIONS / f"{split}.jsonl", records)
    if "baseline" in results:
        results["gain"] = baseline.gain(results)
    if predict_examples is not None:
        interrupt.phase(f"prediction of {cfg.predict}")
        _preds, records = predictor.predict_examples(predict_examples)
        folder.write_jsonl(out / folder.PREDICTIONS / "predict.jsonl", records)
    config.update(backend.run_notes())
    interrupt.phase("writing the run folder")

    if not cfg.eval_only and is_main_process():
        model.save_pretrained(out / folder.RUN_MODEL_DIR)
        tokenizer.save_pretrained(out / folder.RUN_MODEL_DIR)
    label_map.save(out / folder.LABEL_MAP)
    if not cfg.eval_only:
        results["history"] = history.rows  # the Trainer's log_history: losses, learning rates, evaluations
    folder.write_json(out / folder.METRICS, results)
    config.update(status="complete", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    folder.write_json(out / folder.RUN_CONFIG, config)

    for info in registry.load_errors():
        if info.name not in broken:  # a hook that raised during this run (a metric, say)
            echo(f"warning: plugin '{info.name}' failed during the run and its results are missing: {info.error}")

    from ptrun.run.report import summary_table, write_report

    write_report(out, task, config, results)
    result("")
    result(summary_table(task, results))
    result(f"\nRun folder: {out}")
    return out


def _train(task, cfg, backend, model, tokenizer, examples, rendered, label_map, prompt, out, callbacks=(), evaluate=None,
           anchors=None):
    """Wrap the model for the method and train it; return ``(model, training figures)``. ``anchors``:
    ``(examples, rendered)`` of --setfit-anchors."""
    import shutil

    from ptrun.run.plots import length_histogram
    from ptrun.training import contrastive, methods
    from ptrun.training.trainer import train

    if cfg.method == contrastive.METHOD:  # two stages of its own: contrastive pairs, then a head
        features = backend.training_features(examples, rendered, tokenizer, label_map)
        made, drawn = anchors or ([], [])
        model, result = contrastive.train(cfg, model, tokenizer, features, echo, out / folder.CHECKPOINTS,
                                          callbacks=callbacks, tensorboard_dir=out / folder.TENSORBOARD,
                                          anchors=backend.training_features(made, drawn, tokenizer, label_map) if made else [])
        if made:  # what was embedded, per label (--template none: the bare word)
            result["anchors"] = {ex.fields["label"]: r.input if r is not None else " ".join(task.texts(ex).values())
                                 for ex, r in zip(made, drawn)}
        folder.remove_if_empty(out / folder.CHECKPOINTS)
        return model, result
    # AdaLoRA's schedule
    steps = cfg.max_steps or int(-(-len(examples) // (cfg.batch_size * cfg.gradient_accumulation_steps)) * cfg.epochs)
    model = methods.apply(model, backend, cfg, echo, prompt=prompt, n_steps=steps)
    features = backend.training_features(examples, rendered, tokenizer, label_map)
    echo(f"Training {task.name} on {len(features)} examples for {cfg.epochs:g} epoch(s)...")
    result = train(model, tokenizer, features, backend.collator(tokenizer), cfg, out / folder.CHECKPOINTS,
                   next_token_loss=backend.next_token_loss, callbacks=callbacks, evaluate=evaluate,
                   main_metric=task.main_metric, tensorboard_dir=out / folder.TENSORBOARD)
    if cfg.load_best and not cfg.save_steps and is_main_process():
        # The checkpoints were only kept to go back to the best one, which is now model/.
        shutil.rmtree(out / folder.CHECKPOINTS, ignore_errors=True)
    # A small histogram (not every length) keeps metrics.json small; report.html plots it.
    result["prompt_lengths"] = length_histogram([len(f["input_ids"]) for f in features if "input_ids" in f])
    folder.remove_if_empty(out / folder.CHECKPOINTS)
    return model, result

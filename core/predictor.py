"""The load-once predictor: ``ptrun.load(...)`` and what ``ptrun <task> --eval-only``,
``ptrun chat`` and servers predict with."""

from __future__ import annotations

from dataclasses import fields as dataclass_fields

from ptrun.data.records import Record
from ptrun.errors import DataError, PtrunError


class Predictor:
    """A loaded model with its task, template, label map and backend; predicts any number of times."""

    def __init__(self, task, backend, renderer, label_map, model, tokenizer, cfg, resolved=None):
        self.task = task
        self.backend = backend
        self.renderer = renderer
        self.label_map = label_map
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.resolved = resolved

    def __repr__(self):
        name = self.resolved.name if self.resolved is not None else "?"
        return f"<Predictor {self.task.name} {name} ({self.backend.kind})>"

    @property
    def prompt(self):
        return self.renderer.prompt

    def examples(self, inputs) -> list:
        """``inputs`` (dicts of fields, as the task's reader produces them) as unlabelled examples."""
        out = []
        for i, fields in enumerate(inputs):
            where = f"inputs[{i}]"
            if not isinstance(fields, dict):
                raise DataError(f"expected a dict of fields, got {type(fields).__name__}", path=where,
                                hint="Pass one dict per input, e.g. {\"text\": \"...\"}.")
            out.append(self.task.from_record(Record(dict(fields), where, None), labeled=False))
        return out

    def predict(self, inputs) -> list[dict]:
        """One record per input, in order: ``{"id", ..., "prediction": ...}`` plus what the task and
        backend add (label scores, generated text, entities)."""
        examples = self.examples(list(inputs))
        return self.predict_examples(examples)[1]

    def predict_examples(self, examples, rendered=None) -> tuple[list, list[dict]]:
        """Predictions and prediction records of examples (rendered now unless given)."""
        preds, _refs, records = self._predict(examples, rendered)
        return preds, records

    def evaluate(self, examples, rendered=None) -> tuple[dict, list[dict]]:
        """Metrics and prediction records of labelled examples."""
        from ptrun.run.metrics import compute

        rendered = self.renderer.render_all(examples) if rendered is None else rendered
        preds, refs, records = self._predict(examples, rendered)
        metrics = compute(self.task, preds, refs, self.label_map)
        metrics.update(self.backend.split_metrics(self.model, self.tokenizer, examples, rendered, self.label_map, self.cfg.batch_size))
        return metrics, records

    def _predict(self, examples, rendered):
        if not examples:
            return [], [], []
        rendered = self.renderer.render_all(examples) if rendered is None else rendered
        preds = self.backend.predict(self.model, self.tokenizer, examples, rendered, self.label_map, self.cfg.batch_size)
        refs = [self.task.canonical(self.task.reference(ex), self.label_map) if ex.labeled else None for ex in examples]
        records = [self.backend.prediction_record(ex, p, r) for ex, p, r in zip(examples, preds, refs)]
        return preds, refs, records


def load(model: str, task: str | None = None, *, template: str | None = None, device: str = "auto", **options) -> Predictor:
    """Load ``model`` once for predicting: a ptrun run folder (its task, template, label map,
    method and chat layout), or an alias or model folder used zero/few-shot with ``task``'s
    default template (or ``template``). ``options`` are those of ``ptrun TASK`` that apply
    (``shots``, ``calibrate``, ``inference``, ``batch_size``, ``max_length``, ``chat``, ``train``...).
    """
    from ptrun import models
    from ptrun.config import RunConfig

    known = {f.name for f in dataclass_fields(RunConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise PtrunError(f"ptrun.load: unknown option(s) {', '.join(unknown)}.", hint=f"Options: {', '.join(sorted(known - {'task'}))}.")
    if task is None:
        resolved = models.resolve(model)
        task = (resolved.run_config or {}).get("task")
        if task is None:
            raise PtrunError(f"ptrun.load({model!r}): not a run folder, so the task must be given (task=...).")
    cfg = RunConfig(task=task, model=model, template=template, device=device, eval_only=True, **options)
    return build(cfg)


def build(cfg, *, quiet: bool = True) -> Predictor:
    """A predictor for ``cfg`` (an eval-only RunConfig): what ``ptrun.load`` returns."""
    from ptrun import registry
    from ptrun.backends import backend_class
    from ptrun.backends.device import pick_device
    from ptrun.backends.loading import load_for_run
    from ptrun.log import echo
    from ptrun.prompts.render import Renderer, select_demos
    from ptrun.run import setup

    task = registry.get_task(cfg.task)
    setup.apply_defaults(task, cfg)
    resolved = setup.resolve_model(task, cfg)
    prompt = setup.resolve_prompt(task, cfg, resolved)
    examples: dict = {}
    needs_data = resolved.run_dir is None or cfg.shots
    if needs_data and (cfg.train or cfg.data or task.demo_data() is not None):
        paths = setup.resolve_splits(task, cfg, quiet=quiet)
        if "train" in paths:
            examples["train"] = task.read(paths["train"], cfg.format)
    label_map = setup.build_label_map(task, prompt, examples, resolved.run_dir)
    demos = select_demos(task, examples.get("train", []), cfg.shots, cfg.seed, cfg.balanced_shots)
    renderer = Renderer(task, prompt, label_map, demos)
    backend = backend_class(resolved.kind)(task, cfg, renderer, echo)
    target = pick_device(cfg.device, bf16=cfg.bf16, fp16=cfg.fp16)
    model, tokenizer = load_for_run(backend, resolved, label_map)
    model.to(target).eval()
    return Predictor(task, backend, renderer, label_map, model, tokenizer, cfg, resolved)

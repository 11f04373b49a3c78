"""One model behind the server: loading it with :func:`ptrun.load`, warming it up, and
predicting batches of requests as one :meth:`ptrun.Predictor.predict_examples` call.

A request's inputs become examples on their own (so ids and input errors name ``inputs[i]`` of
that request, exactly as ``Predictor.predict`` would); a batch of several requests gets
batch-unique ids for the model call (a backend keys its per-example notes by id) and each record
gets its request's id back.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import threading
import time
from pathlib import Path

from ptrun.deploy.batching import Batcher
from ptrun.errors import DataError

#: Options of ``ptrun.load`` that ``ptrun serve`` passes on.
LOAD_OPTIONS = ("train", "shots", "balanced_shots", "seed", "calibrate", "length_norm", "inference", "chat",
                "max_new_tokens", "batch_size", "max_length", "template_dirs")


class InputError(Exception):
    """An input the task cannot read: ``param`` names it (``inputs[2].text``)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


def default_name(model: str) -> str:
    """A run or model folder's name, or the alias as given."""
    path = Path(model).expanduser()
    return path.resolve().name if path.is_dir() else model


def input_error(exc: DataError) -> InputError:
    """A DataError about ``inputs[i]`` as an InputError whose param names the input and, when the
    message names one, its field."""
    param = exc.path if exc.path and exc.path.startswith("inputs[") else None
    field = re.search(r"field '([^']+)'", exc.message)
    if param and field:
        param = f"{param}.{field.group(1)}"
    return InputError(exc.format(), param)


class ServedModel:
    """A named model: loaded in the background (:meth:`load`), then predicting through its
    :class:`Batcher`."""

    def __init__(self, name: str, path: str, task: str | None, template: str | None, device: str, options: dict,
                 batching: dict, metrics=None):
        self.name = name
        self.path = path
        self.task_name = task
        self.template = template
        self.device = device
        self.options = {k: v for k, v in options.items() if k in LOAD_OPTIONS}
        self.batching = batching
        self.metrics = metrics
        self.predictor = None
        self.batcher: Batcher | None = None
        self.lm = None  # LMServing, for a causal LM
        self.error: str | None = None
        self.ready = threading.Event()
        self.created = int(time.time())

    # -- loading --------------------------------------------------------------------
    def load(self) -> None:
        """Load the model, warm it up with one real prediction, start the batcher."""
        import ptrun
        from ptrun import models

        # --task is for models that are not run folders; a run brings its own.
        task = None if models.resolve(self.path).run_dir is not None else self.task_name
        self.predictor = ptrun.load(self.path, task, template=self.template, device=self.device, **self.options)
        self.warm_up()
        observe = self.metrics.observer(self.name) if self.metrics else {}
        self.batcher = Batcher(self.run_batch, name=f"ptrun-serve-{self.name}", **self.batching, **observe)
        if self.predictor.backend.kind == "causal-lm":
            from ptrun.deploy.lm import LMServing

            self.lm = LMServing(self, self.batching, self.metrics)
        self.ready.set()

    def warm_up(self) -> None:
        """One prediction on the first example of the task's demo data (when it ships some)."""
        from ptrun.data.splits import find_splits

        task = self.predictor.task
        demo = task.demo_data()
        if demo is None:
            print(f"ptrun serve: {self.name}: task '{task.name}' ships no demo data; not warmed up", file=sys.stderr)
            return
        splits = find_splits(demo, task)
        path = splits.get("test") or splits.get("train") or next(iter(splits.values()))
        example = task.read(path)[0]
        try:
            self.predictor.predict_examples([dataclasses.replace(example, id="warm-up")])
        except DataError as exc:  # the model works; this example does not suit it (too long, say)
            print(f"ptrun serve: {self.name}: the warm-up example was refused ({exc.format()}); not warmed up", file=sys.stderr)

    def info(self) -> dict:
        """The /v1/models entry: name, task, template, method, model kind."""
        entry = {"id": self.name, "object": "model", "created": self.created, "owned_by": "ptrun", "ready": self.ready.is_set()}
        p = self.predictor
        if p is None:
            return {**entry, "task": self.task_name, "template": self.template, "method": None, "model_kind": None}
        run = p.resolved.run_config if p.resolved is not None else None
        if run:
            method = run.get("method") or "eval-only"
        else:
            method = "few-shot" if p.cfg.shots else "zero-shot"
        return {**entry, "task": p.task.name, "template": p.prompt.name if p.prompt is not None else None,
                "method": method, "model_kind": p.backend.kind}

    # -- predicting -----------------------------------------------------------------
    def examples(self, inputs: list) -> list:
        """The request's inputs as examples (ids ``inputs[i]``); an input the task rejects raises
        InputError naming it."""
        try:
            return self.predictor.examples(inputs)
        except DataError as exc:
            raise input_error(exc) from None
        except Exception as exc:  # the task's reader failed some other way: find the input
            for i, fields in enumerate(inputs):
                try:
                    self.predictor.examples([fields])
                except Exception:
                    raise InputError(f"inputs[{i}]: the task cannot read this input ({type(exc).__name__}: {exc})",
                                     f"inputs[{i}]") from None
            raise

    def run_batch(self, requests: list[list]) -> list[list[dict]]:
        """Prediction records for each request (a list of examples), from one model call."""
        if len(requests) == 1:
            return [self.predictor.predict_examples(requests[0])[1]]
        examples, owners = [], []
        for r, request in enumerate(requests):
            for ex in request:
                examples.append(dataclasses.replace(ex, id=f"batch-{len(examples)}"))
                owners.append((r, ex.id))
        records = self.predictor.predict_examples(examples)[1]
        out: list[list[dict]] = [[] for _ in requests]
        for (r, original), record in zip(owners, records):
            out[r].append({**record, "id": original} if "id" in record else record)
        return out

    def close(self) -> None:
        for batcher in (self.batcher, self.lm):
            if batcher is not None:
                batcher.close()

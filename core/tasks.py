"""The Task base class: what a task plugin implements.

The runner (:mod:`ptrun.runner`) drives every task the same way: read examples, build the label
map, render each example through the template, encode for the model, train, predict, score.
A task fills in the task-specific steps. Methods that touch torch import it themselves, so
that listing tasks stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptrun.data import Example, read_records
from ptrun.errors import PtrunError


class Task:
    """Base class for tasks; subclass it and return instances from ``ptrun_tasks``."""

    #: Command name (``ptrun <name>``) and a one-line description.
    name: str = ""
    description: str = ""
    #: Template variables each example provides, name -> description (checked before rendering).
    variables: dict[str, str] = {}
    #: File extensions that ``--data DIR`` considers for this task.
    extensions: tuple[str, ...] = (".tsv", ".csv", ".jsonl", ".json")
    #: Template used when ``--template`` is not given.
    default_template: str | None = None
    #: Per model kind, templates that replace ``default_template`` (``{"causal-lm": "..."}``).
    default_templates: dict[str, str] = {}
    #: Model alias used when ``--model`` is not given.
    default_model: str = "minilm"
    #: Model kinds the task supports (``encoder``, ``causal-lm``).
    model_kinds: tuple[str, ...] = ("encoder",)
    #: The label set when the task fixes one (used to lint answer choices), else None.
    labels: list[str] | None = None
    #: Metric that decides "better" in summaries (a key of the metrics dict).
    main_metric: str = "accuracy"
    #: peft task type for ``--method lora`` (``SEQ_CLS``, ``TOKEN_CLS``, ...); None: unsupported.
    peft_task_type: str | None = None
    #: Causal LMs: most tokens a generation may take, and whether evaluation reports the
    #: perplexity of the reference targets.
    max_new_tokens: int = 32
    lm_perplexity: bool = False
    #: Whether a causal LM can answer by ranking the label map's answer choices (``relabel``
    #: renders each); otherwise it generates.
    scores_choices: bool = False
    #: Set by the registry: the plugin that provided this task.
    plugin: str | None = None

    def __repr__(self):
        return f"<Task {self.name}>"

    # -- data ---------------------------------------------------------------------------
    def demo_data(self) -> Path | None:
        """A directory with small train/dev/test files shipped with the plugin, if any."""
        return None

    def read(self, path, fmt: str | None = None, labeled: bool = True) -> list[Example]:
        """Read examples from ``path``; with ``labeled=False`` labels are optional."""
        return [self.from_record(r, labeled) for r in read_records(path, fmt)]

    def from_record(self, record, labeled: bool = True) -> Example:
        raise NotImplementedError

    def labels_of(self, example: Example) -> list[str]:
        """The labels (or tags) an example carries, for building and checking the label map."""
        return []

    def reference(self, example: Example) -> Any:
        """The gold answer of an example, in the format of :meth:`predict`'s predictions."""
        raise NotImplementedError

    # -- templates ----------------------------------------------------------------------
    def context(self, example: Example, label_map) -> dict:
        """Template variables for an example (plugins may add more via ``ptrun_render_context``)."""
        return dict(example.fields)

    def check_prompt(self, prompt) -> None:
        """Raise :class:`ptrun.TemplateError` when ``prompt`` cannot serve this task."""

    def display(self, example: Example, text: str) -> str:
        """Rendered text as a person should see it (``ptrun render``)."""
        return text

    # -- model --------------------------------------------------------------------------
    def load(self, model_path: Path, label_map, *, trained: bool):
        """Return ``(model, tokenizer)``; ``trained`` when loading a ptrun run's own model."""
        raise NotImplementedError

    def encode(self, examples: list[Example], rendered: list, tokenizer, label_map, max_length: int) -> list[dict]:
        """Turn rendered examples into model features (one dict of lists per example)."""
        raise NotImplementedError

    def collator(self, tokenizer):
        raise NotImplementedError

    def predict(self, model, tokenizer, examples, features, label_map, batch_size: int) -> list:
        """Predictions for ``examples``, in the task's prediction format."""
        raise NotImplementedError

    def prediction_record(self, example: Example, prediction, reference) -> dict:
        """One line of ``predictions/<split>.jsonl``."""
        record = {"id": example.id, "prediction": prediction}
        if reference is not None:
            record["reference"] = reference
        return record

    def template_for(self, kind: str) -> str | None:
        """The default template for a model of ``kind`` (``encoder``, ``causal-lm``)."""
        return self.default_templates.get(kind, self.default_template)

    # -- causal language models -----------------------------------------------------
    def lm_messages(self, example: Example, rendered, chat: bool) -> list[dict]:
        """The example as chat messages (``{"role", "content"}``; the assistant turns are the
        targets). The default: the template's system block, its prompt as the user turn and its
        target as the assistant turn. Without a chat format the contents are concatenated."""
        from ptrun.causal import prompt_messages

        return prompt_messages(rendered, chat)

    def parse_generation(self, example: Example, text: str, label_map) -> tuple[Any, dict]:
        """Map a generated text to a prediction; return ``(prediction, notes)``.

        ``prediction`` is None when the text cannot be understood (it then counts as wrong and
        as ``unparseable``). ``notes`` go into the prediction record; numbers among them are
        summed over the split into metrics.json.
        """
        text = text.strip()
        return (text or None), {}

    def relabel(self, example: Example, label: str) -> Example:
        """A copy of ``example`` carrying ``label`` (to render each answer choice's target)."""
        raise self.unusable("ranking answer choices needs relabel(); use --inference generate.")

    def content_free(self, example: Example, filler: str) -> Example | None:
        """A copy of ``example`` with its content replaced by ``filler`` ("N/A"), for contextual
        calibration; None when the task has no such notion."""
        return None

    def unusable(self, message: str) -> PtrunError:
        return PtrunError(f"Task '{self.name}': {message}")

"""The Task base class: everything one task does, with defaults a plugin overrides.

The pipeline (:mod:`ptrun.run.pipeline`) drives every task the same way: read examples, build
the label map, render each example through the template, run the model backend, score. A task
fills in its own steps; it never sees which backend runs it except through the methods of the
model kind it supports (``encode``/``collator``/``predict`` for encoders, ``lm_messages``/
``parse_generation`` for causal LMs). Methods that touch torch import it themselves, so that
listing tasks stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptrun.data.reading import detect_format, read_records
from ptrun.data.records import Example
from ptrun.errors import PtrunError
from ptrun.tasks.labels import LabelMap

#: Training methods (``--method``): full fine-tuning and the peft methods.
METHODS = ("full", "lora", "adalora", "prompt-tuning", "prefix-tuning", "p-tuning", "setfit")
#: Soft-prompt methods: peft prepends virtual tokens to every input.
SOFT_PROMPT_METHODS = ("prompt-tuning", "prefix-tuning", "p-tuning")


class Task:
    """Base class for tasks; subclass it and return instances from ``ptrun_tasks``."""

    #: Command name (``ptrun <name>``) and a one-line description.
    name: str = ""
    description: str = ""
    #: Template variables each example provides, name -> description (checked before rendering).
    variables: dict[str, str] = {}
    #: File extension -> reader format: what ``--data DIR`` considers and how each file is read.
    formats: dict[str, str] = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "json"}
    #: Template used when ``--template`` is not given.
    default_template: str | None = None
    #: Per model kind, templates that replace ``default_template`` (``{"causal-lm": "..."}``).
    default_templates: dict[str, str] = {}
    #: Model alias or folder used when ``--model`` is not given (None: ``--model`` is required).
    default_model: str | None = None
    #: Training defaults when ``--epochs`` / ``--lr`` are not given (peft methods have their own lr).
    default_epochs: float = 3.0
    default_lr: float = 5e-5
    #: Model kinds the task supports (``encoder``, ``causal-lm``).
    model_kinds: tuple[str, ...] = ("encoder",)
    #: The label set when the task fixes one (used to lint answer choices), else None.
    labels: list[str] | None = None
    #: Metric that decides "better" in summaries (a key of the metrics dict).
    main_metric: str = "accuracy"
    #: peft task type of the encoder head (a ``peft.TaskType`` name); None: no peft methods.
    peft_task_type: str | None = None
    #: The transformers auto class of the encoder head (``AutoModelForSequenceClassification``).
    encoder_head: str | None = None
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
        fmt = detect_format(Path(path), self.formats, fmt)
        return [self.from_record(r, labeled) for r in read_records(path, fmt)]

    def from_record(self, record, labeled: bool = True) -> Example:
        raise NotImplementedError

    def split_file(self, folder: Path, split: str, files: list[Path]) -> list[Path]:
        """The data file(s) of a split folder (``train/``) that holds several ``files`` this task
        reads; more than one left is an error asking for ``--train`` and the like."""
        return files

    def labels_of(self, example: Example) -> list[str]:
        """The labels (or tags) an example carries, for building and checking the label map."""
        return []

    def reference(self, example: Example) -> Any:
        """The gold answer of an example, in the format of :meth:`predict`'s predictions."""
        raise NotImplementedError

    def canonical(self, reference, label_map: LabelMap):
        """``reference`` as predictions spell it (label names for classification); the default
        keeps it as it is."""
        return reference

    def label_map(self, labels: list[str], prompt) -> LabelMap:
        """The label map for the (sorted, distinct) ``labels`` of the training data and the
        template in use (its answer choices are the verbalizer words)."""
        choices = prompt.answer_choices if prompt is not None else None
        if isinstance(choices, list):
            choices = dict(zip(self.labels or labels, choices))
        if self.labels is not None and not choices:
            # A task that fixes its label set keeps it, in its order, whatever subset the data has.
            return LabelMap(labels=list(self.labels))
        return LabelMap.for_classes(labels, choices)

    def metrics(self, predictions: list, references: list, label_map: LabelMap) -> dict:
        """The task's own metrics for a prediction pass (plugins may add more via ``ptrun_metrics``)."""
        return {}

    # -- what the task supports -----------------------------------------------------------
    def peft_type(self, kind: str) -> str | None:
        """The peft task type on a model of ``kind``."""
        return "CAUSAL_LM" if kind == "causal-lm" else self.peft_task_type

    def unsupported(self, method: str, kind: str) -> str | None:
        """Why ``--method method`` cannot train this task on a ``kind`` model, or None if it can.

        Asked before anything is written, so an impossible run fails at once."""
        if method == "full":
            return None
        if method == "setfit":
            if kind == "encoder" and self.encoder_head == "AutoModelForSequenceClassification":
                return None
            return ("setfit trains a sentence encoder and a classifier on its pooled embedding, so it is for "
                    "classification tasks on encoder models (use full or lora)")
        if self.peft_type(kind) is None:
            return f"task '{self.name}' does not support parameter-efficient methods on {kind} models"
        return None

    # -- templates ----------------------------------------------------------------------
    def context(self, example: Example, label_map) -> dict:
        """Template variables for an example (plugins may add more via ``ptrun_render_context``)."""
        return dict(example.fields)

    def check_prompt(self, prompt) -> None:
        """Raise :class:`ptrun.TemplateError` when ``prompt`` cannot serve this task."""

    def display(self, example: Example, text: str) -> str:
        """Rendered text as a person should see it (``ptrun render``)."""
        return text

    def template_for(self, kind: str) -> str | None:
        """The default template for a model of ``kind`` (``encoder``, ``causal-lm``)."""
        return self.default_templates.get(kind, self.default_template)

    # -- encoders -----------------------------------------------------------------------
    def head_config(self, label_map) -> dict:
        """Config values of a fresh encoder head (``num_labels`` and the like)."""
        return {"num_labels": len(label_map), "id2label": label_map.id2label, "label2id": label_map.label2id}

    def encode(self, examples: list[Example], rendered: list, tokenizer, label_map, max_length: int) -> list[dict]:
        """Turn rendered examples into model features (one dict of lists per example)."""
        raise NotImplementedError

    def collator(self, tokenizer):
        raise NotImplementedError

    def predict(self, model, tokenizer, examples, features, label_map, batch_size: int) -> list:
        """Predictions for ``examples``, in the task's prediction format."""
        raise NotImplementedError

    def prediction_record(self, example: Example, prediction, reference, **shown) -> dict:
        """One line of ``predictions/<split>.jsonl``: the id, what the task shows of the input
        (``shown``), the prediction and the reference when there is one."""
        record = {"id": example.id, **shown, "prediction": prediction}
        if reference is not None:
            record["reference"] = reference
        return record

    # -- causal language models -----------------------------------------------------
    def lm_messages(self, example: Example, rendered, chat: bool) -> list[dict]:
        """The example as chat messages (``{"role", "content"}``; the assistant turns are the
        targets). The default: the template's system block, its prompt as the user turn and its
        target as the assistant turn. Without a chat format the contents are concatenated."""
        from ptrun.backends.layout import prompt_messages

        return prompt_messages(rendered, chat)

    def parse_generation(self, example: Example, text: str, label_map) -> tuple[Any, dict]:
        """Map a generated text to a prediction; return ``(prediction, notes)``.

        ``prediction`` is None when the text cannot be understood (it then counts as wrong and
        as ``unparseable``). ``notes`` go into the prediction record; numbers among them are
        summed over the split into metrics.json.
        """
        text = text.strip()
        return (text or None), {}

    def chat_fields(self, messages: list[dict]) -> dict | None:
        """The input fields of an OpenAI-style conversation (``messages``: ``{"role", "content"}``
        dicts, the last one the user's) when this task reads conversations, so that a server's
        chat endpoint lays it out through the task's template and the run's chat layout, as the
        task was trained. None (the default): the task does not, and the server uses the
        tokenizer's chat template."""
        return None

    def chat_stops(self, chat: bool) -> list[str]:
        """Strings that end a chat response under this task's layout (``chat``: whether the
        tokenizer's chat template is used), beyond the model's end tokens."""
        return []

    def relabel(self, example: Example, label: str) -> Example:
        """A copy of ``example`` carrying ``label`` (to render each answer choice's target)."""
        raise self.unusable("ranking answer choices needs relabel(); use --inference generate.")

    def content_free(self, example: Example, filler: str) -> Example | None:
        """A copy of ``example`` with its content replaced by ``filler`` ("N/A"), for contextual
        calibration; None when the task has no such notion."""
        return None

    def unusable(self, message: str) -> PtrunError:
        return PtrunError(f"Task '{self.name}': {message}")

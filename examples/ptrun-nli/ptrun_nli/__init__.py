"""ptrun-nli: an example third-party ptrun plugin for natural-language inference.

Natural-language inference is classification with **two** text fields: does the *premise*
entail the *hypothesis*, contradict it, or neither? The module itself is the plugin:
``setup.cfg`` registers it in the ``ptrun`` entry-point group (``nli = ptrun_nli``), and ptrun
calls the ``@hookimpl`` functions below. It adds

* the task ``nli`` (``ptrun nli``): a :class:`ptrun.TextClassificationTask` that declares its
  two text fields in ``text_fields``. Both reach every template as ``{{ premise }}`` and
  ``{{ hypothesis }}``; ``--calibrate`` blanks both; ``--template none`` feeds an encoder the
  pair as a tokenizer sentence pair (``[CLS] premise [SEP] hypothesis [SEP]``). All of that is
  the base class's work: the task only names the fields;
* its templates (``nli/question`` for encoders, ``nli/yes-no`` for causal LMs) from
  ``templates/``, and demo data in ``data/``.

Like every ptrun plugin it imports only ``ptrun`` (never its submodules, nor torch or
transformers): ptrun imports plugins for ``ptrun --help`` and ``ptrun tasks``, which must stay fast.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ptrun import LabelMap, TextClassificationTask, hookimpl

__version__ = "0.1.0"

#: The labels, in label-id order (the order of MNLI/SNLI's ids 0, 1, 2).
NLI_LABELS = ["entailment", "neutral", "contradiction"]


def package_dir() -> Path:
    """This package's folder on disk (works for regular, ``--target`` and editable installs)."""
    return Path(str(files(__name__)))


class NliTask(TextClassificationTask):
    """Whether a premise entails, contradicts or says nothing about a hypothesis."""

    name = "nli"
    description = "Natural-language inference: premise + hypothesis -> entailment, neutral or contradiction"
    # Template variable -> record keys tried in order: {"premise": ..., "hypothesis": ...}
    # records, or GLUE-style {"sentence1": ..., "sentence2": ...}.
    text_fields = {"premise": ("premise", "sentence1"), "hypothesis": ("hypothesis", "sentence2")}
    label_fields = ("label", "gold_label")
    # The task fixes its label set: `ptrun check` verifies that every template's answer_choices
    # name exactly these three.
    labels = NLI_LABELS
    default_template = "nli/question"
    default_templates = {"causal-lm": "nli/yes-no"}
    default_model = "minilm"
    main_metric = "accuracy"
    # Measured with `ptrun nli` on MiniLM-L6 (CPU, seed 42): ptrun's defaults (lr 5e-5, 3 epochs,
    # 24 steps) stay at chance (0.23 test accuracy); lr 2e-4 for 8 epochs (64 steps) reaches
    # 0.67 test / 0.77 dev accuracy (see README.md).
    default_lr = 2e-4
    default_epochs = 8.0

    def demo_data(self):
        return package_dir() / "data"

    def label_map(self, labels, prompt):
        """The three labels in a fixed order, whatever subset the training data holds (and with
        ``--template none`` too). Words come from the template's ``answer_choices``; the ids
        ``0``, ``1``, ``2`` of MNLI/SNLI-style data are accepted as aliases."""
        choices = prompt.answer_choices if prompt is not None else None
        if isinstance(choices, list):
            choices = dict(zip(NLI_LABELS, choices))
        words = {str(k): str(v) for k, v in (choices or {}).items()}
        aliases = {str(i): label for i, label in enumerate(NLI_LABELS)}
        # Unknown keys in answer_choices make LabelMap raise an error naming them.
        return LabelMap(labels=list(NLI_LABELS), words=words, aliases=aliases)


TASK = NliTask()


@hookimpl
def ptrun_tasks():
    return [TASK]


@hookimpl
def ptrun_template_dirs():
    # A directory holding <task>/<name>.j2 files: here templates/nli/*.j2.
    return [package_dir() / "templates"]

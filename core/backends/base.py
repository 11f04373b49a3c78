"""The interface every model backend implements: one backend per model kind.

The pipeline and the predictor talk to a backend only through these methods, so neither
branches on the model kind. A backend gets the task, the run's settings and the prompt
:class:`~ptrun.prompts.render.Renderer`; it loads the model, turns rendered examples into
training features, predicts, and reports what it noticed per split.
"""

from __future__ import annotations


class Backend:
    #: The model kind this backend runs (``encoder``, ``causal-lm``).
    kind: str = ""
    #: Whether prompts may show demonstrations (``--shots``): the model reads them in context.
    takes_demonstrations: bool = False
    #: Whether the loss predicts each label from the position before it (causal LMs).
    next_token_loss: bool = False

    def __init__(self, task, cfg, renderer, echo=lambda message: None):
        self.task = task
        self.cfg = cfg
        self.renderer = renderer
        self.echo = echo

    @property
    def peft_task_type(self) -> str | None:
        return self.task.peft_type(self.kind)

    def load(self, model_path, label_map, *, trained: bool):
        """``(model, tokenizer)``; ``trained`` when loading a ptrun run's own model."""
        raise NotImplementedError

    def training_features(self, examples, rendered, tokenizer, label_map) -> list[dict]:
        """Model features (with labels) of the training examples."""
        raise NotImplementedError

    def collator(self, tokenizer):
        raise NotImplementedError

    def predict(self, model, tokenizer, examples, rendered, label_map, batch_size) -> list:
        """Predictions for ``examples`` (rendered as ``rendered``), in the task's format."""
        raise NotImplementedError

    def prediction_record(self, example, prediction, reference) -> dict:
        return self.task.prediction_record(example, prediction, reference)

    def split_metrics(self, model, tokenizer, examples, rendered, label_map, batch_size) -> dict:
        """What the backend adds to a split's metrics after :meth:`predict` (how it predicted)."""
        return {}

    def run_notes(self) -> dict:
        """Facts about how the model was run, for the run's config.json."""
        return {}

"""The encoder backend: a task's own head on a BERT-like model.

The task says how rendered examples become features and how logits become predictions
(:meth:`ptrun.Task.encode`, :meth:`~ptrun.Task.collator`, :meth:`~ptrun.Task.predict`); this
backend loads the model with the task's head and feeds it.
"""

from __future__ import annotations

from ptrun.backends import loading
from ptrun.backends.base import Backend

#: Tokens per example when --max-length is not given.
DEFAULT_MAX_LENGTH = 128


class EncoderBackend(Backend):
    kind = "encoder"

    def __init__(self, task, cfg, renderer, echo=lambda message: None):
        super().__init__(task, cfg, renderer, echo)
        if cfg.max_length is None:
            cfg.max_length = DEFAULT_MAX_LENGTH  # recorded in config.json as the length used

    @property
    def max_length(self) -> int:
        return self.cfg.max_length

    def load(self, model_path, label_map, *, trained):
        from ptrun.training import contrastive

        if trained and contrastive.is_pooled_dir(model_path):  # a --method setfit run
            return contrastive.load(model_path, label_map)
        return loading.load_encoder(model_path, self.task, label_map, trained=trained)

    def training_features(self, examples, rendered, tokenizer, label_map):
        return self.task.encode(examples, rendered, tokenizer, label_map, self.max_length)

    def collator(self, tokenizer):
        return self.task.collator(tokenizer)

    def predict(self, model, tokenizer, examples, rendered, label_map, batch_size):
        features = self.task.encode(examples, rendered, tokenizer, label_map, self.max_length)
        return self.task.predict(model, tokenizer, examples, features, label_map, batch_size)

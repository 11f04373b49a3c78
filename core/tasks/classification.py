"""Text classification: a base class for classification task plugins, one or several text fields.

Classification task plugins (one text, or several fields such as premise + hypothesis) subclass :class:`TextClassificationTask`. They are scored with
accuracy, macro-F1 and per-class precision/recall/F1; plugins may add metrics of their own.
"""

from __future__ import annotations

import re

from ptrun.data.records import Example, Record, example_id, require_field
from ptrun.tasks.base import Task


class TextClassificationTask(Task):
    """Classify one text, or a tuple of texts, into one of a set of labels.

    On an encoder: a sequence-classification head over the rendered prompt. On a causal LM: the
    answer choices are ranked by likelihood (or a generated answer is mapped back). Subclass it
    with a name, a description and, for other field names, ``text_fields``/``label_fields``;
    the label set comes from the training data and the template's answer choices.
    """

    #: The text fields of an example: template variable -> record keys tried in order. Every
    #: field reaches the template; calibration blanks all of them; with ``--template none`` an
    #: encoder reads two fields as a sentence pair (more: the first, then the rest joined).
    text_fields: dict[str, tuple[str, ...]] = {"text": ("text", "sentence", "review", "content")}
    label_fields = ("label", "labels")
    main_metric = "accuracy"
    peft_task_type = "SEQ_CLS"
    encoder_head = "AutoModelForSequenceClassification"
    model_kinds = ("encoder", "causal-lm")
    max_new_tokens = 8
    scores_choices = True

    @property
    def fields(self) -> dict[str, tuple[str, ...]]:
        # A tuple (the older spelling) names the keys of the single field `text`.
        tf = self.text_fields
        return {"text": tuple(tf)} if isinstance(tf, (tuple, list)) else dict(tf)

    @property
    def variables(self) -> dict[str, str]:
        texts = {name: f"the {name} to classify" if name == "text" else f"the {name} field" for name in self.fields}
        return {
            **texts,
            "label": "the gold label name (empty when predicting)",
            "label_word": "the verbalizer word of the gold label (empty when predicting)",
        }

    def from_record(self, record: Record, labeled: bool = True) -> Example:
        fields = {name: str(require_field(record, keys, name)) for name, keys in self.fields.items()}
        if labeled:
            label = require_field(record, self.label_fields, "label")
        else:
            label = next((record.fields[f] for f in self.label_fields if record.fields.get(f) not in (None, "")), None)
        fields["label"] = None if label is None else str(label)
        return Example(example_id(record), fields, record.path, record.line, labeled=label is not None)

    def labels_of(self, example):
        return [example.fields["label"]] if example.fields["label"] is not None else []

    def reference(self, example):
        return example.fields["label"]

    def canonical(self, reference, label_map):
        # Data may spell labels as ids or aliases ("1"); records and metrics use label names.
        return None if reference is None else (label_map.canonical(reference) or reference)

    def metrics(self, predictions, references, label_map):
        return classification_metrics(predictions, references, label_map.labels)

    def texts(self, example) -> dict[str, str]:
        return {name: example.fields[name] for name in self.fields}

    def context(self, example, label_map):
        label = example.fields["label"]
        name = label_map.canonical(label) if (label is not None and label_map is not None) else label
        return {
            **self.texts(example),
            "label": name or "",
            "label_word": label_map.word(name) if (name and label_map is not None) else "",
        }

    def prediction_record(self, example, prediction, reference, **shown):
        return super().prediction_record(example, prediction, reference, **self.texts(example), **shown)

    # -- causal language models -----------------------------------------------------
    def relabel(self, example, label):
        return Example(example.id, {**example.fields, "label": label}, example.path, example.line, labeled=True)

    def content_free(self, example, filler):
        blank = dict.fromkeys(self.fields, filler)
        return Example(example.id, {**example.fields, **blank}, example.path, example.line, labeled=False)

    def parse_generation(self, example, text, label_map):
        """The label whose word (or name) the answer is, or starts with; None if none matches."""
        answer = _normalise(text)
        candidates = []
        for label in label_map.labels:
            for spelling in {label_map.word(label), label}:
                candidates.append((_normalise(spelling), label))
        for spelling, label in candidates:
            if answer == spelling:
                return label, {}
        # "Positive." or "positive, because ..." but not "not positive".
        starts = {label for spelling, label in candidates if spelling and (answer + " ").startswith(spelling + " ")}
        if len(starts) == 1:
            return starts.pop(), {}
        return None, {}

    # -- encoders -------------------------------------------------------------------
    def encode(self, examples, rendered, tokenizer, label_map, max_length):
        if all(r is not None for r in rendered):
            batch = tokenizer([r.input for r in rendered], truncation=True, max_length=max_length)
        else:  # --template none: the raw fields, two of them as a sentence pair
            parts = [list(self.texts(ex).values()) for ex in examples]
            firsts = [p[0] for p in parts]
            seconds = [" ".join(p[1:]) for p in parts] if len(self.fields) > 1 else None
            batch = tokenizer(firsts, seconds, truncation=True, max_length=max_length)
        features = []
        for i, ex in enumerate(examples):
            feature = {k: batch[k][i] for k in batch.keys()}
            if ex.fields["label"] is not None:
                feature["labels"] = label_map.label2id[label_map.canonical(ex.fields["label"])]
            features.append(feature)
        return features

    def collator(self, tokenizer):
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer)

    def predict(self, model, tokenizer, examples, features, label_map, batch_size):
        from ptrun.backends.device import forward_batches

        predictions: list = [None] * len(examples)
        for chunk, _batch, logits in forward_batches(model, features, self.collator(tokenizer), batch_size):
            for row, i in enumerate(chunk):
                predictions[i] = label_map.labels[int(logits[row].argmax())]
        return predictions


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def classification_metrics(predictions: list, references: list, labels: list[str]) -> dict:
    """Accuracy, macro-F1 and per-class precision/recall/F1, for any classification task."""
    per_class = {}
    for label in labels:
        tp = sum(p == label and r == label for p, r in zip(predictions, references))
        fp = sum(p == label and r != label for p, r in zip(predictions, references))
        fn = sum(p != label and r == label for p, r in zip(predictions, references))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    accuracy = sum(p == r for p, r in zip(predictions, references)) / len(references) if references else 0.0
    macro = sum(c["f1"] for c in per_class.values()) / len(per_class) if per_class else 0.0
    return {"accuracy": accuracy, "macro_f1": macro, "per_class_report": per_class}

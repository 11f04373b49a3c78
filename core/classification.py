"""Text classification on an encoder: a base class for classification task plugins.

The built-in sentiment task and third-party tasks such as intent detection subclass
:class:`TextClassificationTask`; ptrun scores all of them with accuracy, macro-F1 and
per-class precision/recall/F1 (a default plugin), and plugins may add metrics of their own.
"""

from __future__ import annotations

from pathlib import Path

from ptrun.data import Example, Record, require_field
from ptrun.hookspecs import hookimpl
from ptrun.metrics import classification_metrics
from ptrun.tasks import Task


class TextClassificationTask(Task):
    """Classify a text into one of a set of labels with an encoder sequence-classification head.

    Subclass it with a name, a description and (optionally) other field names; the label set
    comes from the training data and the template's answer choices.
    """

    #: Field names tried, in order, for the text and the label of each record.
    text_fields = ("text", "sentence", "review", "content")
    label_fields = ("label", "labels")
    variables = {
        "text": "the text to classify",
        "label": "the gold label name (empty when predicting)",
        "label_word": "the verbalizer word of the gold label (empty when predicting)",
    }
    main_metric = "accuracy"
    peft_task_type = "SEQ_CLS"
    model_kinds = ("encoder", "causal-lm")
    max_new_tokens = 8
    scores_choices = True

    def from_record(self, record: Record, labeled: bool = True) -> Example:
        text = require_field(record, self.text_fields, "text")
        label = None
        if labeled:
            label = require_field(record, self.label_fields, "label")
        else:
            label = next((record.fields[f] for f in self.label_fields if record.fields.get(f) not in (None, "")), None)
        stem = Path(record.path.split(" ")[0]).stem.lstrip("-")  # "--example" when given inline
        ex_id = str(record.fields.get("id") or f"{stem}-{record.line}")
        fields = {"text": str(text), "label": None if label is None else str(label)}
        return Example(ex_id, fields, record.path, record.line, labeled=label is not None)

    def labels_of(self, example):
        return [example.fields["label"]] if example.fields["label"] is not None else []

    def reference(self, example):
        return example.fields["label"]

    def context(self, example, label_map):
        label = example.fields["label"]
        name = label_map.canonical(label) if (label is not None and label_map is not None) else label
        return {
            "text": example.fields["text"],
            "label": name or "",
            "label_word": label_map.word(name) if (name and label_map is not None) else "",
        }

    # -- causal language models -----------------------------------------------------
    def relabel(self, example, label):
        return Example(example.id, {**example.fields, "label": label}, example.path, example.line, labeled=True)

    def content_free(self, example, filler):
        return Example(example.id, {**example.fields, "text": filler}, example.path, example.line, labeled=False)

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

    # -- model ----------------------------------------------------------------------
    def load(self, model_path, label_map, *, trained):
        from ptrun.encoders import load_with_head

        return load_with_head("AutoModelForSequenceClassification", model_path, label_map, trained=trained)

    def encode(self, examples, rendered, tokenizer, label_map, max_length):
        texts = [r.input if r is not None else ex.fields["text"] for ex, r in zip(examples, rendered)]
        batch = tokenizer(texts, truncation=True, max_length=max_length)
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
        from ptrun.infer import forward_batches

        predictions: list = [None] * len(examples)
        for chunk, _batch, logits in forward_batches(model, features, self.collator(tokenizer), batch_size):
            for row, i in enumerate(chunk):
                predictions[i] = label_map.labels[int(logits[row].argmax())]
        return predictions

    def prediction_record(self, example, prediction, reference):
        record = {"id": example.id, "text": example.fields["text"], "prediction": prediction}
        if reference is not None:
            record["reference"] = reference
        return record


def _normalise(text: str) -> str:
    import re

    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@hookimpl
def ptrun_metrics(task, predictions, references, label_map):
    if not isinstance(task, TextClassificationTask):
        return None
    refs = [label_map.canonical(r) for r in references]
    return classification_metrics(predictions, refs, label_map.labels)

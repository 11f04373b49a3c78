"""Combining the metrics every plugin contributes for a prediction pass."""

from __future__ import annotations

from ptrun import plugin_manager as plugins


def compute(task, predictions: list, references: list, label_map) -> dict:
    merged: dict = {}
    for _plugin, values in plugins.call_each(
        "ptrun_metrics", task=task, predictions=predictions, references=references, label_map=label_map
    ):
        for key, value in values.items():
            merged.setdefault(key, value)
    return merged


def scalars(metrics: dict) -> dict:
    """The numeric entries only (what summary tables show)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


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

"""A split's metrics: the task's own, plus what plugins add for every task."""

from __future__ import annotations


def compute(task, predictions: list, references: list, label_map) -> dict:
    """``task.metrics(...)``, then each ``ptrun_metrics`` result merged over it (later wins)."""
    from ptrun import registry

    merged: dict = dict(task.metrics(predictions, references, label_map) or {})
    for _plugin, values in registry.in_registration_order(
        "ptrun_metrics", dict, task=task, predictions=predictions, references=references, label_map=label_map
    ):
        merged.update(values)
    return merged


def scalars(metrics: dict) -> dict:
    """The numeric entries only (what summary tables show)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

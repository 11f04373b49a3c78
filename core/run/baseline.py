"""``--baseline``: the untrained starting point, evaluated on the same splits as the trained model.

For a causal LM that is the model zero-shot with the run's template; for an encoder, the
pretrained body with the task's fresh (untrained) head. metrics.json gets ``"baseline"``
(``{split: metrics}``) and ``"gain"`` (``{split: {metric: after - before}}``, scalars only);
the baseline's predictions go to ``predictions/baseline-<split>.jsonl``.
"""

from __future__ import annotations

from ptrun.run import folder
from ptrun.run.metrics import scalars
from ptrun.run.setup import EVAL_SPLITS


def evaluate(predictor, examples: dict, rendered: dict, out) -> dict:
    """Metrics of ``predictor``'s (untrained) model on each evaluation split present."""
    metrics = {}
    for split in EVAL_SPLITS:
        if split in examples:
            metrics[split], records = predictor.evaluate(examples[split], rendered[split])
            folder.write_jsonl(out / folder.PREDICTIONS / f"baseline-{split}.jsonl", records)
    return metrics


def gain(results: dict) -> dict:
    """``{split: {metric: trained - baseline}}`` for the scalar metrics both have."""
    out = {}
    for split, before in results.get("baseline", {}).items():
        after = scalars(results.get(split) or {})
        out[split] = {k: round(after[k] - v, 6) for k, v in scalars(before).items() if k in after}
    return out


def summary_lines(task, results: dict) -> list[str]:
    """Lines for the summary table: the main metric before and after training, per split."""
    metric = task.main_metric
    lines = []
    for split, before in results.get("baseline", {}).items():
        if metric in before and metric in results.get(split, {}):
            b, a = before[metric], results[split][metric]
            lines.append(f"baseline (untrained) {split} {metric} {b:.4f} -> trained {a:.4f} ({a - b:+.4f})")
    return lines

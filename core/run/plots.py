"""The plots of a run folder (RUN/plots/*.png), chosen by the shape of what the run wrote, never by
task: a training history gives loss, learning-rate and evaluation curves; prediction records
whose prediction and reference are labels give a confusion matrix, and with choice scores a
reliability diagram; a metrics entry ``*_report`` of ``{name: {precision, recall, f1}}`` gives
bars; recorded prompt lengths give their distribution against the length limit.

Each plot function returns a matplotlib Figure, or None when the run has no data for it (not an
error). :func:`draw` saves each figure; one that raises is skipped with a warning, never failing
the run.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

PLOTS = "plots"
#: eval_* keys of the Trainer's log rows that are timing, not metrics.
_NOT_METRICS = ("runtime", "samples_per_second", "steps_per_second", "epoch", "step")


def figure(nrows: int = 1, ncols: int = 1, width: float = 6.4, height: float = 4.0):
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    return fig, axes.ravel()


def training_curves(history: list[dict]):
    """Training loss and learning rate over optimizer steps."""
    rows = [r for r in history or [] if "loss" in r and "step" in r]
    if not rows:
        return None
    lr_rows = [r for r in rows if "learning_rate" in r]
    fig, (loss_ax, lr_ax) = figure(1, 2, width=10)
    loss_ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], marker="o", label="training loss")
    loss_ax.set(title="Training loss", xlabel="step", ylabel="loss")
    loss_ax.legend()
    if lr_rows:
        lr_ax.plot([r["step"] for r in lr_rows], [r["learning_rate"] for r in lr_rows], color="tab:orange", label="learning rate")
        lr_ax.legend()
    lr_ax.set(title="Learning rate", xlabel="step", ylabel="learning rate")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    fig.tight_layout()
    return fig


def eval_curves(history: list[dict], main_metric: str | None = None):
    """Each evaluation metric (``eval_<name>`` keys) over steps; the main metric drawn thicker."""
    rows = [r for r in history or [] if "step" in r and any(k.startswith("eval_") for k in r)]
    series: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        for key, value in r.items():
            name = key[len("eval_"):]
            if key.startswith("eval_") and name not in _NOT_METRICS and _is_number(value):
                series.setdefault(name, []).append((r["step"], value))
    if not series:
        return None
    loss = series.pop("loss", None)
    fig, axes = figure(1, 2 if loss and series else 1, width=10 if loss and series else 6.4)
    ax = axes[0]
    for name, points in series.items():
        ax.plot(*zip(*points), marker="o", label=name, linewidth=3 if name == main_metric else 1.2)
    if series:
        ax.set(title="Evaluation metrics on the validation split", xlabel="step", ylabel="score")
        ax.legend()
    if loss:
        lax = axes[-1]
        lax.plot(*zip(*loss), marker="o", color="tab:red", label="validation loss")
        lax.set(title="Validation loss", xlabel="step", ylabel="loss")
        lax.legend()
    fig.tight_layout()
    return fig


def confusion_matrix(records: list[dict], labels: list[str], split: str):
    """Counts of (reference, prediction) over labels, when both are single labels."""
    pairs = [(r.get("reference"), r.get("prediction")) for r in records or []]
    if not pairs or not labels or not all(isinstance(a, str) and (b is None or isinstance(b, str)) for a, b in pairs):
        return None
    columns = list(labels) + (["(none)"] if any(b is None or b not in labels for _, b in pairs) else [])
    index = {label: i for i, label in enumerate(columns)}
    counts = [[0] * len(columns) for _ in labels]
    for ref, pred in pairs:
        if ref in index and index[ref] < len(labels):
            counts[index[ref]][index.get(pred, len(columns) - 1)] += 1
    size = max(4.0, 0.6 * len(columns) + 2)
    fig, (ax,) = figure(width=size + 1, height=size)
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, label="examples")
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(title=f"Confusion matrix ({split}, {len(pairs)} examples)", xlabel="predicted label", ylabel="true label")
    top = max(max(row) for row in counts) or 1
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            ax.text(j, i, str(n), ha="center", va="center", color="white" if n > top / 2 else "black")
    fig.tight_layout()
    return fig


def _probabilities(scores: dict) -> dict:
    """Choice scores (log-probabilities, possibly calibrated) normalised into probabilities."""
    top = max(scores.values())
    exp = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


def reliability(records: list[dict], split: str, bins: int = 10):
    """Confidence (the top choice's probability) against accuracy, in equal-width bins."""
    rows = [r for r in records or [] if isinstance(r.get("scores"), dict) and r["scores"] and isinstance(r.get("reference"), str)]
    if not rows:
        return None
    confidence, correct = [], []
    for r in rows:
        probs = _probabilities(r["scores"])
        best = max(probs, key=probs.get)
        confidence.append(probs[best])
        correct.append(best == r["reference"])
    edges = [i / bins for i in range(bins + 1)]
    centres, accuracy, counts = [], [], []
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        members = [i for i, c in enumerate(confidence) if lo < c <= hi or (lo == 0 and c == 0)]
        if members:
            acc = sum(correct[i] for i in members) / len(members)
            conf = sum(confidence[i] for i in members) / len(members)
            ece += len(members) / len(rows) * abs(acc - conf)
            centres.append((lo + hi) / 2)
            accuracy.append(acc)
            counts.append(len(members))
    fig, (ax,) = figure(width=5.5, height=5)
    ax.bar(centres, accuracy, width=1 / bins, edgecolor="black", alpha=0.7, label="accuracy in bin")
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    for x, y, n in zip(centres, accuracy, counts):
        ax.text(x, y + 0.01, str(n), ha="center", va="bottom", fontsize=8)
    ax.set(xlim=(0, 1), ylim=(0, 1.08), xlabel="confidence (top choice probability)", ylabel="accuracy",
           title=f"Reliability ({split}, {len(rows)} examples, ECE {ece:.3f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def report_bars(report: dict, split: str, name: str):
    """Grouped precision / recall / F1 bars for a ``{row: {precision, recall, f1, ...}}`` report."""
    keys = ("precision", "recall", "f1")
    if not isinstance(report, dict) or not report:
        return None
    if not all(isinstance(v, dict) and all(_is_number(v.get(k)) for k in keys) for v in report.values()):
        return None
    names = list(report)
    width = 0.8 / len(keys)
    fig, (ax,) = figure(width=max(6.4, 1.2 * len(names) + 2))
    for i, key in enumerate(keys):
        ax.bar([j + (i - 1) * width for j in range(len(names))], [report[n][key] for n in names], width, label=key)
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 6 else 0)
    ax.set(ylim=(0, 1.05), ylabel="score", xlabel=name.replace("_report", "").replace("_", " "),
           title=f"Precision, recall and F1 per {name.replace('per_', '').replace('_report', '')} ({split})")
    ax.legend()
    fig.tight_layout()
    return fig


def length_histogram(lengths: list[int], bins: int = 20) -> dict:
    """A small histogram of token lengths for metrics.json: edges, counts, and the extremes."""
    if not lengths:
        return {}
    low, high = min(lengths), max(lengths)
    step = max(1, math.ceil((high - low + 1) / bins))
    edges = list(range(low, high + step + 1, step))
    counts = [0] * (len(edges) - 1)
    for n in lengths:
        counts[min((n - low) // step, len(counts) - 1)] += 1
    return {"edges": edges, "counts": counts, "min": low, "max": high, "mean": round(sum(lengths) / len(lengths), 2)}


def prompt_lengths(histogram: dict | None, max_length: int | None):
    """The distribution of training-example token lengths, with the --max-length limit."""
    if not histogram or not histogram.get("counts"):
        return None
    edges, counts = histogram["edges"], histogram["counts"]
    fig, (ax,) = figure()
    ax.bar(edges[:-1], counts, width=[b - a for a, b in itertools.pairwise(edges)], align="edge",
           edgecolor="black", alpha=0.7, label="training examples")
    if max_length:
        ax.axvline(max_length, color="tab:red", linestyle="--", label=f"--max-length {max_length}")
    ax.set(title=f"Token lengths (mean {histogram.get('mean')}, max {histogram.get('max')})",
           xlabel="tokens per example", ylabel="examples")
    ax.legend()
    fig.tight_layout()
    return fig


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def draw(out: Path, specs, warn) -> list[tuple[str, Path]]:
    """Draw ``specs`` (``(file stem, title, zero-argument function)``) into ``out/plots``; return
    ``(title, png)`` of those drawn. A spec that raises is skipped with ``warn``; one that returns
    None has no data and is skipped silently."""
    drawn = []
    for stem, title, make in specs:
        try:
            fig = make()
            if fig is not None:
                drawn.append((title, save(fig, Path(out) / PLOTS / f"{stem}.png")))
        except Exception as exc:  # noqa: BLE001 - a plot is a convenience: it never fails the run
            warn(f"plot '{title}' was skipped: {type(exc).__name__}: {exc}")
    return drawn


def run_specs(run_dir: Path, config: dict, results: dict, read_records, main_metric: str | None):
    """The plot specs of a run folder, from its config, metrics and prediction records."""
    history = results.get("history") or []
    labels = (config.get("label_map") or {}).get("labels") or []
    classes = (config.get("label_map") or {}).get("kind", "classes") == "classes"
    max_length = (config.get("config") or {}).get("max_length")
    specs = [
        ("training", "Training loss and learning rate", lambda: training_curves(history)),
        ("evaluation", "Evaluation during training", lambda: eval_curves(history, main_metric)),
        ("lengths", "Token lengths against --max-length",
         lambda: prompt_lengths((results.get("train") or {}).get("prompt_lengths"), max_length)),
    ]
    for split in ("validation", "test"):
        if split not in results:
            continue
        if classes:
            specs.append((f"confusion-{split}", f"Confusion matrix ({split})",
                          lambda s=split: confusion_matrix(read_records(s), labels, s)))
            specs.append((f"reliability-{split}", f"Reliability diagram ({split})",
                          lambda s=split: reliability(read_records(s), s)))
        for key, value in (results[split] or {}).items():
            if key.endswith("_report") and isinstance(value, dict):
                specs.append((f"{key.replace('_', '-')}-{split}", f"{key.replace('_', ' ')} ({split})",
                              lambda v=value, s=split, k=key: report_bars(v, s, k)))
    return specs

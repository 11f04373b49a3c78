"""The few-shot protocol: K training examples per label (``--k-per-class``), and the same
configuration once per seed (``--seeds``) with the mean and standard deviation over seeds.

A seed run is a normal run folder (``OUT/seed-N``, its own draw of the K examples, its own
shuffling and initialisation); ``OUT/summary.json`` and ``OUT/seeds.png`` summarise them.
"""

from __future__ import annotations

import random
import shutil
import statistics
from dataclasses import replace
from pathlib import Path

from ptrun.errors import PtrunError
from ptrun.log import echo, result

SUMMARY = "summary.json"
PLOT = "seeds.png"


def draw_k_per_class(task, examples, k: int, seed: int, path=None) -> list:
    """``k`` examples of each label, drawn with ``seed`` from ``examples`` (kept in file order)."""
    where = f" in {path}" if path else ""
    if not examples:
        raise PtrunError("--k-per-class draws from the training split, and there is none.",
                         hint="Pass --train FILE (or --data with a train file).")
    by_label: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        labels = task.labels_of(ex)
        if len(labels) != 1:
            raise PtrunError(
                f"--k-per-class: task '{task.name}' examples carry {len(labels)} labels each (example {ex.id}{where}), "
                "and K per label is defined for one label per example.",
                hint="Use --limit-train N to train on fewer examples.",
            )
        by_label.setdefault(labels[0], []).append(i)
    short = {label: len(ids) for label, ids in by_label.items() if len(ids) < k}
    if short:
        counts = ", ".join(f"'{label}' has {n}" for label, n in sorted(short.items()))
        raise PtrunError(f"--k-per-class {k}: the training split{where} has fewer than {k} examples of some labels ({counts}).",
                         hint=f"Lower --k-per-class to at most {min(short.values())}, or add examples of those labels.")
    rng = random.Random(seed)
    chosen = sorted(i for label in sorted(by_label) for i in rng.sample(by_label[label], k))
    echo(f"Few-shot: {k} training examples per label ({len(chosen)} of {len(examples)}), drawn with seed {seed}.")
    return [examples[i] for i in chosen]


def _prepare(out: Path, overwrite: bool) -> None:
    """The summary folder: refuse to mix with an existing folder unless it is a seeds folder and
    ``overwrite`` is given."""
    if out.exists() and not out.is_dir():
        raise PtrunError(f"--output-dir {out} is a file, not a folder.", hint="Choose another --output-dir.")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise PtrunError(f"The output directory {out} already exists and is not empty.",
                             hint="Pass --overwrite to replace it, or choose another --output-dir.")
        if not (out / SUMMARY).is_file():
            raise PtrunError(f"--overwrite: {out} does not look like a ptrun --seeds folder (no {SUMMARY}), so it was left alone.",
                             hint="Delete it yourself or choose another --output-dir.")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def run_seeds(cfg, seeds, callbacks=()) -> dict:
    """Run ``cfg`` once per seed in ``OUT/seed-N`` and return the summary (also written to
    ``OUT/summary.json``): per split, the mean, std and values of every numeric metric."""
    from ptrun import registry
    from ptrun.run import folder
    from ptrun.run.pipeline import run
    from ptrun.run.setup import check_options

    seeds = [int(s) for s in seeds]
    if not seeds:
        raise PtrunError("--seeds needs at least one seed, e.g. --seeds 13,21,42.")
    task = registry.get_task(cfg.task)
    check_options(cfg)
    out = Path(cfg.output_dir) if cfg.output_dir else folder.default_output_dir(task.name)
    _prepare(out, cfg.overwrite)
    runs = {}
    for n, seed in enumerate(seeds, 1):
        echo(f"\n== seed {seed} ({n} of {len(seeds)}) ==")
        one = replace(cfg, seed=seed, seeds=(), output_dir=str(out / f"seed-{seed}"), overwrite=False)
        runs[seed] = run(one, callbacks=callbacks)
        summary = summarise(task, {s: folder.read_metrics(r) for s, r in runs.items()}, runs)
        folder.write_json(out / SUMMARY, summary)  # after every seed: an interrupted protocol keeps its part
    plot(summary, out / PLOT)
    result("")
    result(summary_table(summary))
    result(f"\nSeeds folder: {out} ({SUMMARY}, {PLOT}, seed-N/)")
    return summary


def summarise(task, metrics: dict, runs: dict) -> dict:
    """Mean and sample standard deviation over seeds of each split's numeric metrics."""
    from ptrun.run.metrics import scalars

    out = {"task": task.name, "main_metric": task.main_metric, "seeds": list(metrics),
           "runs": {str(s): str(p) for s, p in runs.items()}, "metrics": {}}
    for split in ("validation", "test", "train"):
        per_seed = [scalars(m.get(split) or {}) for m in metrics.values()]
        keys = [k for k in per_seed[0] if all(k in row for row in per_seed)] if per_seed else []
        if not keys:
            continue
        out["metrics"][split] = {}
        for key in keys:
            values = [float(row[key]) for row in per_seed]
            out["metrics"][split][key] = {
                "mean": statistics.fmean(values),
                "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                "values": values,
            }
    return out


def summary_table(summary: dict) -> str:
    """``mean ± std`` per evaluation split, the main metric first."""
    main = summary["main_metric"]
    splits = [s for s in ("validation", "test") if s in summary["metrics"]]
    if not splits:
        return "(nothing was evaluated)"
    columns: list[str] = []
    for split in splits:
        columns += [k for k in summary["metrics"][split] if k not in columns]
    columns.sort(key=lambda c: c != main)
    rows = [["split", *columns]]
    for split in splits:
        stats = summary["metrics"][split]
        rows.append([split, *(f"{stats[c]['mean']:.4f} ± {stats[c]['std']:.4f}" if c in stats else "-" for c in columns)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"mean ± sample std over {len(summary['seeds'])} seeds ({', '.join(map(str, summary['seeds']))})")
    return "\n".join(lines)


def plot(summary: dict, path: Path) -> bool:
    """The main metric of each seed per split, with the mean ± std; a plot that cannot be drawn
    is skipped with a warning."""
    main = summary["main_metric"]
    splits = [s for s in ("validation", "test") if main in summary["metrics"].get(s, {})]
    if not splits:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
        for x, split in enumerate(splits):
            stats = summary["metrics"][split][main]
            ax.scatter([x] * len(stats["values"]), stats["values"], color="tab:blue", alpha=0.6,
                       label="one seed" if x == 0 else None)
            ax.errorbar([x + 0.15], [stats["mean"]], yerr=[stats["std"]], fmt="o", color="tab:red", capsize=4,
                        label="mean ± std" if x == 0 else None)
        ax.set_xticks(range(len(splits)), splits)
        ax.set_xlim(-0.5, len(splits) - 0.5)
        ax.set_ylabel(main)
        ax.set_title(f"{summary['task']}: {main} over {len(summary['seeds'])} seeds")
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return True
    except Exception as exc:  # noqa: BLE001 -- a missing plot must never fail the protocol
        echo(f"warning: {path.name} was not drawn: {type(exc).__name__}: {exc}")
        return False

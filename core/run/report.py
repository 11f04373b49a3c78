"""The readable side of a run folder: report.md and the summary table printed at the end."""

from __future__ import annotations

from ptrun.run.metrics import scalars
from ptrun.run.folder import atomic_write_text


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"
    return str(value)


def summary_table(task, results: dict) -> str:
    """A plain-text table: one row per split, one column per scalar metric."""
    rows = []
    eval_splits = [s for s in ("validation", "test") if s in results]
    columns: list[str] = []
    for split in eval_splits:
        for key in scalars(results[split]):
            if key not in columns:
                columns.append(key)
    if task.main_metric in columns:
        columns.remove(task.main_metric)
        columns.insert(0, task.main_metric)
    if eval_splits:
        rows.append(["split", *columns])
        for split in eval_splits:
            values = scalars(results[split])
            rows.append([split, *(_fmt(values[c]) if c in values else "-" for c in columns)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    if rows:
        lines.insert(1, "  ".join("-" * w for w in widths))
    from ptrun.run.baseline import summary_lines

    lines += summary_lines(task, results)
    if "train" in results:
        t = results["train"]
        lines.append(
            f"trained {t['train_sentences']} examples x {t['epochs']:g} epochs in "
            f"{t['train_runtime']:.1f}s ({t['train_samples_per_second']:.1f} examples/s), final loss {t['train_loss']:.4f}"
        )
        if t.get("trainable_parameters", 0) < t.get("total_parameters", 0):
            lines.append(f"trained {t['trainable_parameters']:,} of {t['total_parameters']:,} parameters")
    return "\n".join(lines) if lines else "(nothing was evaluated)"


def write_report(out, task, config: dict, results: dict) -> None:
    opts = config["config"]
    used = {k: v for k, v in config["data"].items() if k in config["examples"]}  # eval-only drops train
    trained = config.get("method") is not None
    what = (
        f"- trained with `--method {config['method']}`: lr {opts['lr']}, epochs {opts['epochs']}, "
        if trained else "- evaluated as it is (no training): "
    )
    lines = [
        f"# ptrun run: {task.name}",
        "",
        f"- model: `{config['model']}` ({config['model_kind']})",
        f"- template: `{config['template_source']}` (sha256 {str(config['template_sha256'])[:12]})",
        "- data: " + (", ".join(f"{k} `{v}` ({config['examples'].get(k, 0)} examples)" for k, v in used.items()) or "none"),
        *([f"- predicted: `{config['predict_file']}` (predictions/predict.jsonl)"] if config.get("predict_file") else []),
        what + f"seed {opts['seed']}, batch size {opts['batch_size']}, max length {opts['max_length']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in config["versions"].items()),
        "",
        "## Results",
        "",
        "```",
        summary_table(task, results),
        "```",
    ]
    for split in ("validation", "test"):
        for key, value in (results.get(split) or {}).items():
            if key.endswith("_report") and isinstance(value, dict):
                lines += ["", f"### {split}: {key.replace('_', ' ')}", "", *_report_table(value)]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")


def _report_table(report: dict) -> list[str]:
    """A markdown table from ``{row: {column: value}}``."""
    columns: list[str] = []
    for row in report.values():
        for c in row:
            if c not in columns:
                columns.append(c)
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in report.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    return lines

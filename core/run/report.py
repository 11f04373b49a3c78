"""The readable side of a run folder: report.md, report.html (plots embedded) and the summary
table printed at the end."""

from __future__ import annotations

import json
from pathlib import Path

from ptrun.run.folder import PREDICTIONS, atomic_write_text
from ptrun.run.metrics import scalars


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


def write_report(out, task, config: dict, results: dict, warn=None) -> None:
    """report.md and a self-contained report.html (plots embedded) beside it; the plots are also
    saved as RUN/plots/*.png. A plot that cannot be drawn is skipped with a warning."""
    from ptrun.log import warn as default_warn
    from ptrun.run import plots

    opts = config["config"]
    used = {k: v for k, v in config["data"].items() if k in config["examples"]}  # eval-only drops train
    trained = config.get("method") is not None
    what = (
        f"- trained with `--method {config['method']}`: lr {opts['lr']}, epochs {opts['epochs']}, "
        if trained else "- evaluated as it is (no training): "
    )
    header = [
        f"- model: `{config['model']}` ({config['model_kind']})",
        f"- template: `{config['template_source']}` (sha256 {str(config['template_sha256'])[:12]})",
        "- data: " + (", ".join(f"{k} `{v}` ({config['examples'].get(k, 0)} examples)" for k, v in used.items()) or "none"),
        *([f"- predicted: `{config['predict_file']}` (predictions/predict.jsonl)"] if config.get("predict_file") else []),
        what + f"seed {opts['seed']}, batch size {opts['batch_size']}, max length {opts['max_length']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in config["versions"].items()),
    ]
    blocks = [("h1", f"ptrun run: {task.name}"), ("ul", [h[2:] for h in header]), ("h2", "Results"),
              ("pre", summary_table(task, results))]
    for split in ("validation", "test"):
        for key, value in (results.get(split) or {}).items():
            if key.endswith("_report") and isinstance(value, dict):
                blocks += [("h3", f"{split}: {key.replace('_', ' ')}"), ("table", *_report_rows(value))]
    specs = plots.run_specs(Path(out), config, results, lambda split: _records(out, split), task.main_metric)
    drawn = _draw(out, specs, warn or default_warn)
    if drawn:
        blocks += [("h2", "Plots"), *(("img", title, path) for title, path in drawn)]
    write_documents(out, f"ptrun run: {task.name}", blocks)


def _draw(out, specs, warn):
    from ptrun.log import is_main_process
    from ptrun.run import plots

    if not is_main_process():  # the run folder is rank 0's
        return []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        warn("the run's plots were skipped: matplotlib is not installed (pip install matplotlib).")
        return []
    return plots.draw(out, specs, warn)


def _records(out, split: str) -> list[dict]:
    path = Path(out) / PREDICTIONS / f"{split}.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _report_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a ``{row: {column: value}}`` report."""
    columns: list[str] = []
    for row in report.values():
        for c in row:
            if c not in columns:
                columns.append(c)
    return ["", *columns], [[str(name), *(_fmt(row.get(c, "")) for c in columns)] for name, row in report.items()]


def write_documents(out, title: str, blocks: list[tuple]) -> None:
    """Write ``blocks`` as report.md and report.html in ``out``. Blocks: ``("h1"|"h2"|"h3", text)``,
    ``("ul", [items])``, ``("pre", text)``, ``("p", text)``, ``("table", header, rows)``,
    ``("img", title, png path)``; item and paragraph text may hold `code` spans."""
    from ptrun.run.report_html import to_html

    md: list[str] = []
    for kind, *args in blocks:
        if kind in ("h1", "h2", "h3"):
            md += ["#" * int(kind[1]) + " " + args[0], ""]
        elif kind == "ul":
            md += [f"- {item}" for item in args[0]] + [""]
        elif kind == "pre":
            md += ["```", args[0], "```", ""]
        elif kind == "p":
            md += [args[0], ""]
        elif kind == "table":
            header, rows = args
            md += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
            md += ["| " + " | ".join(row) + " |" for row in rows] + [""]
        elif kind == "img":
            md += [f"![{args[0]}]({Path(args[1]).relative_to(Path(out)).as_posix()})", ""]
    atomic_write_text(Path(out) / "report.md", "\n".join(md).rstrip() + "\n")
    atomic_write_text(Path(out) / "report.html", to_html(title, blocks))

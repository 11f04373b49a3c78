"""``ptrun runs`` (a table of run folders) and ``ptrun compare`` (runs side by side). They read only
config.json and metrics.json (the run-folder format of :mod:`ptrun.run.folder`), so they never
import torch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from ptrun.errors import PtrunError

#: Folders inside a run folder (or beside runs) that never hold another run.
_SKIP = {"model", "checkpoints", "templates", "predictions", "plots", "__pycache__"}


def find_runs(dirs) -> list[Path]:
    """Every run folder (a config.json written by ptrun) under ``dirs``, at any depth."""
    from ptrun.run.folder import RUN_CONFIG

    found = []
    for top in dirs:
        top = Path(top)
        if not top.is_dir():
            raise PtrunError(f"{top} is not a folder.", hint="Pass folders that hold run folders (default: ./runs).")
        for root, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d not in _SKIP and not d.startswith("."))
            if RUN_CONFIG in files and _config(Path(root)) is not None:
                found.append(Path(root))
                subdirs[:] = []  # a run folder holds no other run
    return found


def _config(run: Path) -> dict | None:
    try:
        config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return config if isinstance(config, dict) and "ptrun_version" in config else None


def _metrics(run: Path) -> dict:
    try:
        metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _main_metric(task_name: str, split_metrics: dict) -> str | None:
    """The task's main metric if the task is installed, else the split's first scalar."""
    from ptrun import registry

    task = registry.tasks().get(task_name)
    if task is not None and task.main_metric in split_metrics:
        return task.main_metric
    return next(iter(_scalars(split_metrics)), None)


def _scalars(split_metrics) -> dict:
    if not isinstance(split_metrics, dict):
        return {}
    return {k: v for k, v in split_metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def run_row(run: Path) -> dict:
    """One run as a row: who, what, main metric per split, train time, status, when."""
    config, metrics = _config(run) or {}, _metrics(run)
    opts = config.get("config") or {}
    row = {
        "run": str(run),
        "task": config.get("task"),
        "model": config.get("model"),
        "template": config.get("template_source"),
        "method": config.get("method") or "eval-only",
        "seed": opts.get("seed"),
        "metric": None,
        "validation": None,
        "test": None,
        "train_time": (metrics.get("train") or {}).get("train_runtime"),
        "status": config.get("status"),
        "started": config.get("started"),
        "metrics": {split: _scalars(metrics.get(split)) for split in ("validation", "test") if split in metrics},
    }
    evaluated = metrics.get("test") or metrics.get("validation") or {}
    row["metric"] = _main_metric(row["task"], evaluated) if evaluated else None
    for split in ("validation", "test"):
        row[split] = row["metrics"].get(split, {}).get(row["metric"])
    return row


def sort_value(row: dict, metric: str):
    """``test.f1`` / ``validation.f1`` or plain ``f1`` (test, else validation)."""
    split, _, name = metric.rpartition(".")
    for s in [split] if split else ["test", "validation"]:
        value = row["metrics"].get(s, {}).get(name)
        if value is not None:
            return value
    return None


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"
    return str(value)


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@click.command("runs")
@click.argument("dirs", nargs=-1, type=click.Path(file_okay=False))
@click.option("--sort", "sort_metric", metavar="METRIC", help="Sort by this metric, best first (f1, test.f1, validation.accuracy).")
@click.option("--ascending", is_flag=True, help="With --sort: lowest first (for losses, perplexity).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def runs(dirs, sort_metric, ascending, as_json):
    """One row per run folder under DIRS (default ./runs), newest first."""
    default = not dirs and not Path("runs").is_dir()  # no ./runs yet: an empty table, not an error
    rows = [] if default else [run_row(r) for r in find_runs(dirs or ["runs"])]
    rows.sort(key=lambda r: r["started"] or "", reverse=True)
    if sort_metric:
        with_value = [r for r in rows if sort_value(r, sort_metric) is not None]
        if rows and not with_value:
            raise PtrunError(f"--sort {sort_metric}: no run has that metric.",
                             hint="Name a metric of metrics.json (e.g. f1 or test.accuracy); see `ptrun runs --json`.")
        with_value.sort(key=lambda r: sort_value(r, sort_metric), reverse=not ascending)
        rows = with_value + [r for r in rows if sort_value(r, sort_metric) is None]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"No run folders under {', '.join(dirs or ['runs'])}.")
        return
    header = ["run", "task", "model", "template", "method", "seed", "metric", "validation", "test",
              "train s", "status", "started"]
    table = [header] + [[
        r["run"], *(_fmt(r[k]) for k in ("task", "model", "template", "method", "seed", "metric", "validation", "test")),
        "-" if r["train_time"] is None else f"{r['train_time']:.1f}", _fmt(r["status"]), _fmt(r["started"]),
    ] for r in rows]
    click.echo(text_table(table))


def _flat(config: dict) -> dict:
    """What a run was: its options plus the resolved model, template and method."""
    # Where a run was written, and whether it overwrote, differ between any two runs: not what it was.
    flat = {f"config.{k}": v for k, v in (config.get("config") or {}).items() if k not in ("output_dir", "overwrite", "resume")}
    for key in ("task", "model", "model_kind", "method", "template_source", "template_sha256", "inference", "chat_format"):
        if key in config:
            flat[key] = config[key]
    for split, path in (config.get("data") or {}).items():
        flat[f"data.{split}"] = path
    return flat


@click.command("compare")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print metrics and differing options as JSON.")
def compare(run_dirs, as_json):
    """Metrics of RUN RUN... side by side, and the configuration keys that differ."""
    if len(run_dirs) < 2:
        raise PtrunError("ptrun compare needs at least two run folders.", hint="Pass RUN RUN [RUN...]; `ptrun runs` lists them.")
    configs = []
    for run in run_dirs:
        config = _config(Path(run))
        if config is None:
            raise PtrunError(f"{run} is not a ptrun run folder (no config.json written by ptrun).",
                             hint="Pass run folders; `ptrun runs` lists them.")
        configs.append(config)
    metrics = [_metrics(Path(r)) for r in run_dirs]
    table: dict[str, dict[str, list]] = {}
    for split in ("validation", "test"):
        names: list[str] = []
        for m in metrics:
            names += [n for n in _scalars(m.get(split)) if n not in names]
        if names:
            table[split] = {n: [_scalars(m.get(split)).get(n) for m in metrics] for n in names}
    train_time = [(m.get("train") or {}).get("train_runtime") for m in metrics]
    if any(t is not None for t in train_time):
        table.setdefault("train", {})["train_runtime"] = train_time
    flats = [_flat(c) for c in configs]
    keys = sorted({k for f in flats for k in f})
    differ = {k: [f.get(k) for f in flats] for k in keys
              if len({json.dumps(f.get(k, "<absent>"), sort_keys=True, default=str) for f in flats}) > 1}
    if as_json:
        click.echo(json.dumps({"runs": list(run_dirs), "metrics": table, "differences": differ}, indent=2, default=str))
        return
    names = [Path(r).name or str(r) for r in run_dirs]
    rows = [["split", "metric", *names]]
    for split, values in table.items():
        rows += [[split, name, *map(_fmt, vals)] for name, vals in values.items()]
    click.echo(text_table(rows) if len(rows) > 1 else "(no metrics)")
    click.echo("")
    if differ:
        shown = lambda v: f"{v:g}" if isinstance(v, float) else str(v)
        click.echo(text_table([["option", *names], *([k, *(shown(v) for v in vals)] for k, vals in differ.items())]))
    else:
        click.echo("The runs' configurations are the same.")


COMMANDS = (runs, compare)

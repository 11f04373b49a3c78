"""The run folder: every file written atomically, so a killed run never leaves a truncated file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from ptrun.errors import PtrunError
from ptrun.models import RUN_CONFIG, is_run_dir


def is_main_process() -> bool:
    """True in a single process and on rank 0 of a distributed run (torchrun/accelerate set RANK).

    Only the main process writes the run folder; the others train their shard and stay silent.
    """
    return int(os.environ.get("RANK", "0")) == 0


def atomic_write_text(path, text: str) -> None:
    if not is_main_process():
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl(path, rows) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))


def default_output_dir(task_name: str) -> Path:
    return Path("runs") / f"{task_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare(output_dir, overwrite: bool) -> Path:
    """Create the run folder, refusing to clobber an existing one unless ``overwrite``."""
    out = Path(output_dir)
    if not is_main_process():
        return out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise PtrunError(
                f"The output directory {out} already exists and is not empty.",
                hint="Pass --overwrite to replace it, or choose another --output-dir.",
            )
        if not out.is_dir() or not (is_run_dir(out) or (out / RUN_CONFIG).is_file()):
            raise PtrunError(
                f"--overwrite: {out} does not look like a ptrun run folder, so it was left alone.",
                hint="Delete it yourself or choose another --output-dir.",
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out

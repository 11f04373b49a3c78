"""The run folder: its format (file names, how one is recognised, its config.json), atomic writes
(a killed run never leaves a truncated file), creating, resuming and exporting one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from ptrun.errors import PtrunError
from ptrun.log import is_main_process

#: The files and folders of a run folder.
RUN_CONFIG = "config.json"
RUN_MODEL_DIR = "model"
LABEL_MAP = "label_map.json"
METRICS = "metrics.json"
TEMPLATES = "templates"
PREDICTIONS = "predictions"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"
#: Held (``fcntl.flock``) by the process writing the folder, for the run's life.
LOCK = ".lock"

_held: dict[Path, int] = {}  # run folder -> descriptor of its locked .lock file


def library_versions() -> dict:
    import importlib.metadata as md
    import platform

    versions = {"python": platform.python_version()}
    for dist in ("ptrun", "torch", "transformers", "accelerate", "jinja2", "pluggy", "seqeval"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return versions


def new_config(task, cfg, resolved, prompt, demos, split_paths, examples, label_map) -> dict:
    """A run's config.json as it starts (``status: running``): what ran, on what, with which
    options and library versions. ``--model RUN`` reads it back (:func:`read_config`)."""
    import sys
    from dataclasses import asdict

    return {
        "ptrun_version": library_versions().get("ptrun", "unknown"),
        "status": "running",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "task": task.name,
        "task_plugin": task.plugin,
        "model": resolved.name,
        "model_path": str(resolved.path),
        "model_kind": resolved.kind,
        "method": cfg.method if not cfg.eval_only else None,
        "inference": None,
        "demonstrations": [ex.id for ex in demos],
        "base_model_path": (resolved.run_config or {}).get("base_model_path") or str(resolved.path),
        "template": None,
        "template_source": prompt.name if prompt else None,
        "template_sha256": prompt.sha256 if prompt else None,
        "data": {split: str(p) for split, p in split_paths.items()},
        "predict_file": cfg.predict,
        "examples": {split: len(items) for split, items in examples.items()},
        "label_map": label_map.to_dict(),
        "config": asdict(cfg),
        "versions": library_versions(),
        "command": sys.argv,
    }


def is_run_dir(path: Path) -> bool:
    """A finished or running ptrun run: ``config.json`` (written by ptrun) and ``model/``."""
    path = Path(path)
    if not (path / RUN_MODEL_DIR).is_dir() or not (path / RUN_CONFIG).is_file():
        return False
    try:
        return "ptrun_version" in read_config(path)
    except (OSError, json.JSONDecodeError):
        return False


def read_config(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / RUN_CONFIG).read_text(encoding="utf-8"))


def read_metrics(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / METRICS).read_text(encoding="utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> None:
    if not is_main_process():
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; a result file gets the mode any new file would (the umask).
        os.chmod(tmp, 0o666 & ~_umask())
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


def lock(out: Path) -> None:
    """Hold ``out/.lock`` until :func:`release` (or the process ends: the kernel drops the lock of
    a dead process, so a stale file blocks nothing); a second process writing the folder is refused."""
    import fcntl

    out = Path(out)
    if not is_main_process() or not out.is_dir() or out.resolve() in _held:
        return
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise PtrunError(
            f"Another ptrun process (pid {holder}) is writing the run folder {out}.",
            hint="Wait for it to finish (or stop it), or choose another --output-dir.",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[out.resolve()] = fd


def release(out: Path | None = None) -> None:
    """Let go of the lock on ``out`` (every lock this process holds when None)."""
    for key in [k for k in _held if out is None or k == Path(out).resolve()]:
        os.close(_held.pop(key))


def _contents(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.name != LOCK]


def _not_empty(out: Path) -> PtrunError:
    """The refusal to write into ``out``: an unfinished run with a checkpoint is resumed, not replaced."""
    status = None
    if (out / RUN_CONFIG).is_file():
        try:
            status = read_config(out).get("status")
        except (OSError, ValueError):
            pass
    unfinished = ("interrupted", "running", "failed")
    if status in unfinished and any((out / CHECKPOINTS).glob("checkpoint-*")):
        return PtrunError(
            f"The output directory {out} holds an unfinished run (status {status}) with a checkpoint.",
            hint="Add --resume (with the same options) to continue it, or pass --overwrite to start it again.",
        )
    return PtrunError(
        f"The output directory {out} already exists and is not empty"
        + (f" (a run with status {status})." if status in unfinished else "."),
        hint="Pass --overwrite to replace it, or choose another --output-dir.",
    )


def prepare(output_dir, overwrite: bool) -> Path:
    """Create the run folder and lock it, refusing to clobber an existing one unless ``overwrite``."""
    out = Path(output_dir)
    if not is_main_process():
        return out
    if out.exists() and not out.is_dir():
        raise PtrunError(
            f"--output-dir {out} is a file, not a folder.",
            hint="Choose another --output-dir (a run folder is a directory ptrun creates).",
        )
    if out.exists() and _contents(out):
        if not overwrite:
            raise _not_empty(out)
        if not (is_run_dir(out) or (out / RUN_CONFIG).is_file()):
            raise PtrunError(
                f"--overwrite: {out} does not look like a ptrun run folder, so it was left alone.",
                hint="Delete it yourself or choose another --output-dir.",
            )
        lock(out)  # before deleting anything: the folder may be another process's running run
        for item in _contents(out):
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
    out.mkdir(parents=True, exist_ok=True)
    lock(out)
    return out


#: Settings that may differ when a run is resumed; everything else must match the first start.
RESUME_MAY_CHANGE = {"resume", "overwrite", "output_dir", "save_total_limit", "device", "gradient_checkpointing"}


def resumable(out: Path, settings: dict) -> dict:
    """The config of the run in ``out``, after checking that ``settings`` (the run's options, as
    config.json stores them) can continue it."""
    config_path = out / RUN_CONFIG
    if not config_path.is_file() or not any((out / CHECKPOINTS).glob("checkpoint-*")):
        raise PtrunError(
            f"--resume: {out} holds no checkpoint to resume from.",
            hint="Pass the --output-dir of a run started with --save-steps.",
        )
    previous = read_config(out)
    before = previous.get("config", {})
    now = json.loads(json.dumps(settings, default=str))  # as it was stored (tuples become lists)
    changed = sorted(k for k in now if k not in RESUME_MAY_CHANGE and k in before and before.get(k) != now[k])
    if changed:
        details = ", ".join(f"{k}: {before.get(k)!r} -> {now[k]!r}" for k in changed)
        raise PtrunError(
            f"--resume: the options differ from the run being resumed ({details}).",
            hint="Resume with the same options the run was started with.",
        )
    return previous


def remove_if_empty(path: Path) -> None:
    # The run folder belongs to the main process; another rank must not race it here.
    if is_main_process() and path.is_dir() and not any(path.iterdir()):
        path.rmdir()


def export_merged(run: str, output_dir: str, overwrite: bool = False) -> Path:
    """Write a LoRA run as a standalone run folder with the adapter merged into the model."""
    from ptrun import models, registry
    from ptrun.backends import backend_class
    from ptrun.tasks.labels import LabelMap
    from ptrun.training import methods

    resolved = models.resolve(run)
    if resolved.run_dir is None:
        raise PtrunError(f"ptrun export: {run} is not a ptrun run folder.")
    if not methods.is_adapter_dir(resolved.path):
        raise PtrunError(
            f"ptrun export --merge: {run} holds a full model, not an adapter; there is nothing to merge.",
            hint="Use the run folder as it is (--model RUN).",
        )
    if resolved.run_config.get("method") not in methods.MERGEABLE:
        raise PtrunError(
            f"ptrun export --merge: a {resolved.run_config.get('method')} run cannot be merged into the "
            f"model's weights (only {', '.join(methods.MERGEABLE)} adapters can).",
            hint="Load it with --model RUN, which attaches the adapter to its base model.",
        )
    task = registry.get_task(resolved.run_config["task"])
    label_map = LabelMap.load(resolved.run_dir / LABEL_MAP)
    from ptrun.backends.loading import load_for_run
    from ptrun.config import RunConfig

    backend = backend_class(resolved.kind)(task, RunConfig(task=task.name), None)
    model, tokenizer = load_for_run(backend, resolved, label_map)
    model = model.merge_and_unload()
    out = prepare(Path(output_dir), overwrite)
    model.save_pretrained(out / RUN_MODEL_DIR)
    tokenizer.save_pretrained(out / RUN_MODEL_DIR)
    if (resolved.run_dir / TEMPLATES).is_dir():
        shutil.copytree(resolved.run_dir / TEMPLATES, out / TEMPLATES)
    label_map.save(out / LABEL_MAP)
    config = dict(resolved.run_config)
    config.update(method="lora-merged", merged_from=str(resolved.run_dir), base_model_path=str(out / RUN_MODEL_DIR))
    write_json(out / RUN_CONFIG, config)
    release(out)
    return out

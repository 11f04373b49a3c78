"""``ptrun predict``: a large unlabelled file through a model loaded once, as a stream.

The input is read record by record (:func:`ptrun.data.reading.iter_records`) in chunks of
``chunk_size``; each chunk is predicted with :meth:`ptrun.predictor.Predictor.predict_examples`
and its lines are written at once, so memory stays bounded whatever the file's length. Chunk ``k``
belongs to process ``k % WORLD_SIZE`` (one process: all of them); the files, the journal that
makes ``--resume`` exact and the merge of several processes' shards are :mod:`ptrun.deploy.shards`.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ptrun.data.reading import can_skip_bad, detect_format, iter_records
from ptrun.deploy.shards import (
    Shard,
    finalize_single,
    merge_shards,
    rejects_path,
    wait_for_shards,
)
from ptrun.errors import DataError, PtrunError, TemplateError
from ptrun.log import echo


@dataclass
class PredictJob:
    """What ``ptrun predict`` was asked: the model, the input, the output and the options."""

    model: str
    input: Path
    out: Path
    task: str | None = None
    format: str | None = None
    chunk_size: int = 256
    resume: bool = False
    skip_bad: bool = False
    merge_timeout: float = 600.0
    #: Options of :func:`ptrun.load` (template, device, batch_size, shots, ...).
    options: dict = field(default_factory=dict)


@dataclass
class Summary:
    examples: int = 0
    rejects: int = 0
    #: Of those, what an earlier (killed) run had written.
    resumed_examples: int = 0
    resumed_rejects: int = 0
    load_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        new = self.examples - self.resumed_examples
        return new / self.seconds if self.seconds > 0 else 0.0


def distributed() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from the environment torchrun sets (one process: 0, 1, 0)."""
    try:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise PtrunError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers.") from None
    if world < 1 or not 0 <= rank < world:
        raise PtrunError(f"RANK={rank} does not fit WORLD_SIZE={world}.")
    return rank, world, local


def resolve_task(model: str, task: str | None) -> str:
    """The task to predict: ``task``, else the one the run folder ``model`` was trained for."""
    if task is not None:
        return task
    from ptrun import models

    found = (models.resolve(model).run_config or {}).get("task")
    if found is None:
        raise PtrunError(f"{model} is not a ptrun run folder, so the task must be given.", hint="Pass --task TASK.")
    return found


def run_predict(job: PredictJob) -> Summary:
    """Predict ``job.input`` into ``job.out``; return what was done (on rank 0: all processes)."""
    from ptrun import registry

    started = time.time()
    rank, world, local_rank = distributed()
    task = registry.get_task(resolve_task(job.model, job.task))
    path, out = Path(job.input), Path(job.out)
    fmt = detect_format(path, task.formats, job.format)
    if out.is_dir():
        raise PtrunError(f"-o {out} is a directory; pass the file to write (e.g. {out / 'predictions.jsonl'}).")
    if out.resolve() == path.resolve():
        raise PtrunError("-o must differ from the input file.")
    settings = _settings(job, task.name, path, fmt, world)

    # A first pass reads every record (nothing is kept): a bad line fails now, before the model
    # loads and before anything is written, and the progress bar knows its total.
    n_items = _check_input(task, path, fmt, job.skip_bad, out)
    n_chunks = -(-n_items // job.chunk_size)
    own = [k for k in range(n_chunks) if k % world == rank]

    shard = Shard(out, rank, world)
    resuming = job.resume and shard.exists()
    if resuming:
        shard.resume(settings)  # before the model loads: other settings fail at once
    predictor = _load(job, task.name, world, local_rank)
    if not resuming:
        if job.resume:
            echo(f"--resume: no partial output at {shard.data}; starting from the beginning.")
        elif shard.exists():
            echo(f"Discarding the partial output {shard.data} of an earlier run (pass --resume to continue it).")
        shard.start(settings)
    done = shard.committed_chunks()
    summary = Summary()
    summary.resumed_examples, summary.resumed_rejects = shard.totals()
    summary.load_seconds = time.time() - started
    t0 = time.time()
    try:
        _predict_chunks(predictor, task, path, fmt, job, shard, own, done, n_items)
    except Exception as exc:
        shard.close()
        if world > 1:
            shard.fail(exc.format() if isinstance(exc, PtrunError) else f"{type(exc).__name__}: {exc}")
        elif not shard.commits:
            shard.remove()  # nothing worth resuming
        if isinstance(exc, PtrunError):
            raise _with_resume_hint(exc, shard) from None
        raise
    finally:
        shard.close()

    if world == 1:
        summary.examples, summary.rejects = shard.totals()
        finalize_single(shard, job.skip_bad)
    else:
        shard.finish(started, resumed=summary.resumed_examples)
        if rank != 0:
            summary.examples, summary.rejects = shard.totals()
            summary.seconds = time.time() - t0
            return summary
        others = [Shard(out, r, world) for r in range(1, world)]
        markers = wait_for_shards(others, since=started, timeout=job.merge_timeout)
        for other in others:
            other.read(settings)
        totals = [s.totals() for s in (shard, *others)]
        summary.examples, summary.rejects = sum(t[0] for t in totals), sum(t[1] for t in totals)
        summary.resumed_examples += sum(m.get("resumed", 0) for m in markers)
        merge_shards([shard, *others], n_chunks, job.skip_bad)
        echo(f"Merged the shards of {world} processes ({n_chunks} chunks) into {out}.")
    summary.seconds = time.time() - t0
    return summary


def _settings(job: PredictJob, task: str, path: Path, fmt: str, world: int) -> dict:
    """What decides the output; a resumed run must have the same (``shards.RESUME_MAY_CHANGE`` aside)."""
    import json

    model = str(Path(job.model).resolve()) if Path(job.model).exists() else job.model
    options = json.loads(json.dumps(job.options, default=str))  # as the journal stores them
    return {"model": model, "task": task, "input": str(path.resolve()), "format": fmt, "chunk_size": job.chunk_size,
            "world_size": world, "skip_bad": job.skip_bad, **options}


def _check_input(task, path: Path, fmt: str, skip_bad: bool, out: Path) -> int:
    """The number of records in ``path`` (bad ones included with ``skip_bad``); without it, the
    first bad record is an error naming its file and line."""
    count = 0
    try:
        items = iter_records(path, fmt, skip_bad=True)  # a reader that can skip yields bad records
        for item in items:
            count += 1
            error = item if isinstance(item, DataError) else None
            if error is None:
                try:
                    task.from_record(item, labeled=False)
                except DataError as exc:
                    error = exc
            if error is not None and not skip_bad:
                hint = f"{error.hint or ''} Or pass --skip-bad to write bad records to {rejects_path(out).name} and go on."
                raise DataError(error.message, path=error.path, line=error.line, hint=hint.strip())
    except DataError as exc:
        if skip_bad and exc.line is not None and not can_skip_bad(path, fmt):
            raise DataError(exc.message, path=exc.path, line=exc.line,
                            hint=f"The reader of format '{fmt}' cannot skip bad records: fix this one.") from None
        raise
    return count


def _load(job: PredictJob, task: str, world: int, local_rank: int):
    """The predictor, loaded once; under torchrun each process on its own GPU (``LOCAL_RANK``)."""
    from ptrun.predictor import load

    if world > 1 and job.options.get("device", "auto") in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
    return load(job.model, task, **job.options)


def _chunks(items, size: int):
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _source_lines(chunk) -> list:
    return [getattr(chunk[0], "line", None), getattr(chunk[-1], "line", None)]


def _predict_chunks(predictor, task, path, fmt, job, shard, own, done, n_items) -> None:
    from ptrun.log import progress

    size = job.chunk_size
    own_set = set(own)
    items_of = lambda k: min(size, n_items - k * size)
    with progress(sum(items_of(k) for k in own), "predict", initial=sum(items_of(k) for k in own if k in done)) as bar:
        shard.open()
        for k, chunk in enumerate(_chunks(iter_records(path, fmt, skip_bad=job.skip_bad), size)):
            if k not in own_set:
                continue
            lines = _source_lines(chunk)
            if k in done:
                if done[k].lines and done[k].lines != lines:
                    raise PtrunError(
                        f"--resume: {path} changed since {shard.data.name} was written (chunk {k} held its "
                        f"records from line {done[k].lines[0]} to {done[k].lines[1]}, now {lines[0]} to {lines[1]}).",
                        hint="Start again without --resume.")
                continue
            rows, rejects = predict_chunk(predictor, task, chunk, job.skip_bad)
            shard.write_chunk(k, rows, rejects, lines)
            bar.update(len(chunk))


def predict_chunk(predictor, task, chunk: list, skip_bad: bool) -> tuple[list[dict], list[dict]]:
    """Output lines (``{"id", "line", ...the task's prediction record}``) and rejected records
    (``{"line", "raw" or "fields", "error"}``) of one chunk of records, both in input order."""
    examples, rejected = [], []
    for i, item in enumerate(chunk):
        if isinstance(item, DataError):
            rejected.append((i, reject(item, getattr(item, "raw", None))))
            continue
        try:
            examples.append((i, task.from_record(item, labeled=False)))
        except DataError as exc:
            if not skip_bad:
                raise
            rejected.append((i, reject(exc, item.fields)))
    records, failed = _prediction_records(predictor, [ex for _, ex in examples], skip_bad)
    rows = []
    for j, ((i, ex), record) in enumerate(zip(examples, records)):
        if j in failed:
            rejected.append((i, reject(failed[j], chunk[i].fields)))
            continue
        row = {"id": record.get("id", ex.id), "line": ex.line}
        row.update((key, value) for key, value in record.items() if key != "id")
        rows.append(row)
    return rows, [row for _, row in sorted(rejected, key=lambda pair: pair[0])]


def reject(error, raw) -> dict:
    """A rejects-file line: where the bad record is, what it held, and why it was refused."""
    row = {"line": getattr(error, "line", None)}
    row["raw" if isinstance(raw, str) or raw is None else "fields"] = raw
    row["error"] = error.format()
    return row


def _prediction_records(predictor, examples, skip_bad):
    """Prediction records of ``examples``; with ``skip_bad``, an example the model cannot take
    (too long for the context, a template that fails on it) is set apart by predicting the chunk's
    examples one at a time, and the others are predicted together."""
    try:
        return predictor.predict_examples(examples)[1], {}
    except (DataError, TemplateError):
        if not skip_bad:
            raise
    failed = {}
    for j, ex in enumerate(examples):
        try:
            predictor.predict_examples([ex])
        except (DataError, TemplateError) as exc:
            failed[j] = exc
    ok = iter(predictor.predict_examples([ex for j, ex in enumerate(examples) if j not in failed])[1])
    return [None if j in failed else next(ok) for j in range(len(examples))], failed


def _with_resume_hint(exc, shard: Shard):
    if not isinstance(exc, PtrunError) or not shard.commits:
        return exc
    n = shard.totals()[0]
    extra = (f"The {n} predictions written so far are kept in {shard.data.name}: fix the problem and rerun "
             "with --resume to continue from there.")
    hint = f"{exc.hint.rstrip()} {extra}" if exc.hint else extra
    if isinstance(exc, (DataError, TemplateError)):
        return type(exc)(exc.message, path=exc.path, line=exc.line, hint=hint)
    return PtrunError(exc.where() + exc.message, hint=hint)


def summary_line(summary: Summary, out: Path, skip_bad: bool) -> str:
    """The closing line on stdout: examples, rejects, seconds, examples per second."""
    earlier = f" ({summary.resumed_examples} by the earlier run)" if summary.resumed_examples else ""
    rejects = f" and {rejects_path(out)}" if skip_bad else ""
    return (f"examples: {summary.examples}{earlier}  rejects: {summary.rejects}  seconds: {summary.seconds:.1f}  "
            f"examples/s: {summary.rate:.1f}  (start-up {summary.load_seconds:.1f} s)  -> {out}{rejects}")

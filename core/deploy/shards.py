"""The files of ``ptrun predict``: a shard's partial output and its journal, resuming one after a
kill, and merging the shards of several processes into the final file.

One process writes ``OUT.jsonl.partial``; process ``R`` of ``N`` (torchrun) writes
``OUT.jsonl.part-R``. Each chunk's prediction lines are appended to the shard's data file (and its
rejected records to ``OUT.rejects.jsonl.partial`` / ``.part-R``), flushed, and only then committed
by a line in the shard's journal (``<shard>.log``: the settings first, then one line per chunk with
the byte sizes the files had after it). A kill -9 can leave a torn line anywhere: ``--resume``
keeps what the journal committed, cuts the files back to the committed sizes, and starts from the
next chunk. The final ``OUT.jsonl`` appears only complete (an atomic rename).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ptrun.errors import PtrunError

#: Settings that may change when a partial output is resumed (they do not change predictions).
RESUME_MAY_CHANGE = {"device", "batch_size"}


def rejects_path(out: Path) -> Path:
    """``OUT.rejects.jsonl`` next to ``OUT.jsonl`` (``OUT.x.rejects.jsonl`` for other names)."""
    name = out.name.removesuffix(".jsonl")
    return out.with_name(f"{name}.rejects.jsonl")


@dataclass
class Commit:
    """One chunk written: its index, its output and reject lines, the files' sizes after it, and
    the source lines of its first and last input record (to notice an input changed under a resume)."""

    chunk: int
    out: int
    rej: int
    out_bytes: int
    rej_bytes: int
    lines: list = field(default_factory=list)


class Shard:
    """The partial files of one process."""

    def __init__(self, out: Path, rank: int = 0, world_size: int = 1):
        self.out, self.rank, self.world_size = Path(out), rank, world_size
        suffix = ".partial" if world_size == 1 else f".part-{rank}"
        self.data = self.out.with_name(self.out.name + suffix)
        self.rejects = rejects_path(self.out).with_name(rejects_path(self.out).name + suffix)
        self.journal = self.data.with_name(self.data.name + ".log")
        self.done = self.data.with_name(self.data.name + ".done")
        self.failed = self.data.with_name(self.data.name + ".failed")
        self.commits: list[Commit] = []
        self._files = None

    def paths(self) -> tuple[Path, ...]:
        return self.data, self.rejects, self.journal, self.done, self.failed

    def exists(self) -> bool:
        return self.journal.is_file()

    def remove(self) -> None:
        for path in self.paths():
            path.unlink(missing_ok=True)

    # -- starting and resuming -----------------------------------------------------
    def start(self, settings: dict) -> None:
        """A fresh shard: whatever an earlier run left is removed; the journal opens with ``settings``."""
        self.remove()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        header = {"ptrun_predict": 1, "rank": self.rank, "world_size": self.world_size, "settings": settings,
                  "started": time.time()}
        _append(self.journal, json.dumps(header) + "\n")
        self.data.touch()
        self.rejects.touch()
        self.commits = []

    def read(self, settings: dict) -> list[dict]:
        """The shard's journal (its committed chunks into :attr:`commits`), after checking that it
        was written with ``settings``."""
        entries = _complete_lines(self.journal)
        if not entries or "settings" not in entries[0]:
            raise PtrunError(f"--resume: {self.journal} is not the journal of a ptrun predict run.",
                             hint="Start again without --resume.")
        before = entries[0]["settings"]
        changed = sorted(k for k in set(before) | set(settings) if k not in RESUME_MAY_CHANGE and before.get(k) != settings.get(k))
        if changed:
            details = ", ".join(f"{k}: {before.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            raise PtrunError(f"--resume: the settings differ from the run that wrote {self.data.name} ({details}).",
                             hint="Resume with the same model, input and options, or start again without --resume.")
        self.commits = [Commit(**e) for e in entries[1:]]
        return entries

    def resume(self, settings: dict) -> None:
        """Continue the shard an earlier run left: check its settings, keep its committed chunks,
        cut off what a kill left after them."""
        entries = self.read(settings)
        out_bytes, rej_bytes = (self.commits[-1].out_bytes, self.commits[-1].rej_bytes) if self.commits else (0, 0)
        for path, size in ((self.data, out_bytes), (self.rejects, rej_bytes)):
            have = path.stat().st_size if path.is_file() else 0
            if have < size:
                raise PtrunError(f"--resume: {path} is shorter than its journal says ({have} < {size} bytes).",
                                 hint="Start again without --resume.")
            path.touch()
            with open(path, "r+b") as f:  # cut off lines written after the last commit (a torn one too)
                f.truncate(size)
        _rewrite(self.journal, entries)
        for path in (self.done, self.failed):
            path.unlink(missing_ok=True)

    def committed_chunks(self) -> dict[int, Commit]:
        return {c.chunk: c for c in self.commits}

    # -- writing -------------------------------------------------------------------
    def open(self) -> None:
        self._files = (open(self.data, "ab"), open(self.rejects, "ab"))

    def write_chunk(self, chunk: int, rows: list[dict], rejects: list[dict], lines: list) -> None:
        """Append a chunk's output and rejected lines, flush them to disk, then commit the chunk."""
        data, rej = self._files
        for f, items in ((data, rows), (rej, rejects)):
            if items:
                f.write("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in items).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        commit = Commit(chunk, len(rows), len(rejects), data.tell(), rej.tell(), lines)
        _append(self.journal, json.dumps(commit.__dict__) + "\n")
        self.commits.append(commit)

    def close(self) -> None:
        if self._files:
            for f in self._files:
                f.close()
        self._files = None

    def finish(self, started: float, resumed: int = 0) -> None:
        """Mark this shard complete (``.done``: what rank 0 waits for); ``resumed``: the output
        lines an earlier run had written."""
        _atomic_write(self.done, json.dumps({"rank": self.rank, "chunks": len(self.commits), "started": started,
                                             "finished": time.time(), "resumed": resumed}))

    def fail(self, message: str) -> None:
        _atomic_write(self.failed, json.dumps({"rank": self.rank, "error": message, "finished": time.time()}))

    def totals(self) -> tuple[int, int]:
        return sum(c.out for c in self.commits), sum(c.rej for c in self.commits)


def finalize_single(shard: Shard, keep_rejects: bool) -> None:
    """One process: the partial files become ``OUT.jsonl`` (and the rejects file) by rename."""
    if keep_rejects:
        os.replace(shard.rejects, rejects_path(shard.out))
    os.replace(shard.data, shard.out)
    shard.remove()


def wait_for_shards(shards: list[Shard], since: float, timeout: float, poll: float = 0.2) -> list[dict]:
    """Wait (at most ``timeout`` seconds) until every shard is marked done by a process that
    finished after ``since``, and return the markers; a shard marked failed ends the wait with its error."""
    deadline = time.time() + timeout
    pending, markers = list(shards), []
    while pending:
        for shard in list(pending):
            for path, failed in ((shard.failed, True), (shard.done, False)):
                marker = _read_json(path)
                if marker is None or marker.get("finished", 0) < since:
                    continue  # absent, or left by an earlier run
                if failed:
                    raise PtrunError(f"ptrun predict: process {shard.rank} failed: {marker.get('error')}",
                                     hint="Fix the problem and rerun with --resume: the finished chunks are kept.")
                pending.remove(shard)
                markers.append(marker)
                break
        if pending and time.time() > deadline:
            ranks = ", ".join(str(s.rank) for s in pending)
            raise PtrunError(f"ptrun predict: process(es) {ranks} did not finish within {timeout:g} s of process 0.",
                             hint="Their partial outputs are kept: rerun with --resume to continue them.")
        if pending:
            time.sleep(poll)
    return markers


def merge_shards(shards: list[Shard], n_chunks: int, keep_rejects: bool) -> None:
    """Rank 0: the shards' lines, chunk by chunk in input order, into ``OUT.jsonl`` (and the
    rejects file), each written to a temporary file and renamed; then the shards are removed."""
    journals = []
    for shard in shards:
        entries = _complete_lines(shard.journal)
        journals.append({e["chunk"]: Commit(**e) for e in entries[1:]})
    missing = [k for k in range(n_chunks) if k not in journals[k % len(shards)]]
    if missing:
        raise PtrunError(f"ptrun predict: chunk(s) {missing[:5]} missing from the shards' journals.",
                         hint="Rerun with --resume.")
    out = shards[0].out
    targets = [("data", "out", out)] + ([("rejects", "rej", rejects_path(out))] if keep_rejects else [])
    for attr, count, final in targets:
        sources = [open(getattr(s, attr), "rb") for s in shards]
        try:
            with _atomic_file(final) as dst:
                for k in range(n_chunks):
                    src = sources[k % len(shards)]
                    for _ in range(getattr(journals[k % len(shards)][k], count)):
                        dst.write(src.readline())
        finally:
            for f in sources:
                f.close()
    for shard in shards:
        shard.remove()


# -- file helpers ------------------------------------------------------------------
def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _complete_lines(path: Path) -> list[dict]:
    """The JSON lines of ``path`` up to the first torn or unreadable one."""
    entries = []
    if not path.is_file():
        return entries
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return entries


def _rewrite(path: Path, entries: list[dict]) -> None:
    _atomic_write(path, "".join(json.dumps(e) + "\n" for e in entries))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


class _atomic_file:
    """A binary file written under a temporary name and renamed into place when complete."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self):
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        self.f = os.fdopen(fd, "wb")
        return self.f

    def __exit__(self, exc_type, *_):
        try:
            if exc_type is None:
                self.f.flush()
                os.fsync(self.f.fileno())
        finally:
            self.f.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            Path(self.tmp).unlink(missing_ok=True)
        return False


def _atomic_write(path: Path, text: str) -> None:
    with _atomic_file(path) as f:
        f.write(text.encode("utf-8"))

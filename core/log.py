"""What ptrun tells the user while it works: progress and warnings on stderr, from the main
process only (one copy in a distributed run)."""

from __future__ import annotations

import os


def is_main_process() -> bool:
    """True in a single process and on rank 0 of a distributed run (torchrun/accelerate set RANK).

    Only the main process writes the run folder and talks; the others train their shard quietly.
    """
    return int(os.environ.get("RANK", "0")) == 0


def echo(message: str = "") -> None:
    """Progress and summaries, on stderr."""
    if is_main_process():
        import click

        click.echo(message, err=True)


def warn(message: str) -> None:
    echo(f"warning: {message}")


def result(message: str = "") -> None:
    """Results (the summary table, the run folder), on stdout, where a pipe or a file keeps them."""
    if is_main_process():
        import click

        click.echo(message)


def progress(total: int, desc: str, unit: str = "ex", initial: int = 0):
    """A progress bar on a terminal (tqdm); elsewhere (a log file, a pipe, CI) a plain line with
    the count, rate and ETA every ``PTRUN_PROGRESS_SECONDS`` (30) seconds and one at the end, so a
    long job is never silent. Nothing from the non-main processes of a distributed run."""
    import sys

    if not is_main_process():
        return _Lines(total, desc, unit, initial, quiet=True)
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=False, file=sys.stderr, dynamic_ncols=True)
    return _Lines(total, desc, unit, initial)


class _Lines:
    """Plain-text progress lines on stderr (the context-manager part of tqdm's interface)."""

    def __init__(self, total, desc, unit, initial=0, quiet=False):
        import os
        import time

        self.total, self.desc, self.unit, self.n, self.quiet = total, desc, unit, initial, quiet
        self.start = self.last = time.monotonic()
        self.first = initial
        self.every = float(os.environ.get("PTRUN_PROGRESS_SECONDS", "30"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self._line(done=True)

    def update(self, n: int = 1) -> None:
        import time

        self.n += n
        if time.monotonic() - self.last >= self.every:
            self._line()

    def close(self) -> None:
        self._line(done=True)

    def _line(self, done: bool = False) -> None:
        import time

        now = time.monotonic()
        self.last = now
        if self.quiet or not self.total:
            return
        elapsed = max(now - self.start, 1e-9)
        rate = (self.n - self.first) / elapsed
        pct = 100 * self.n / self.total
        if done:
            text = f"{self.desc}: {self.n}/{self.total} {self.unit} in {elapsed:.0f}s ({rate:.1f} {self.unit}/s)"
        else:
            eta = (self.total - self.n) / rate if rate > 0 else float("inf")
            eta_text = time.strftime("%H:%M:%S", time.gmtime(eta)) if eta != float("inf") else "?"
            text = f"{self.desc}: {self.n}/{self.total} {self.unit} ({pct:.0f}%), {rate:.1f} {self.unit}/s, ETA {eta_text}"
        echo(text)

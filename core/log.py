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

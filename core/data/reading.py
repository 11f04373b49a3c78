"""Reading a data file with the reader its format names: whole (:func:`read_records`) or as a
stream (:func:`iter_records`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ptrun.data.records import Record
from ptrun.errors import DataError


def detect_format(path: Path, formats: dict[str, str], explicit: str | None = None) -> str:
    """The format of ``path``: ``explicit`` (``--format``), else by extension from ``formats``
    (a task's :attr:`~ptrun.Task.formats`)."""
    if explicit:
        return explicit
    fmt = formats.get(Path(path).suffix.lower())
    if fmt is None:
        known = ", ".join(f"{ext} ({name})" for ext, name in formats.items())
        raise DataError(
            f"cannot tell the format of this file from its extension '{Path(path).suffix}' (this task reads {known})",
            path=path,
            hint="Pass --format with a format name or rename the file.",
        )
    return fmt


def _reader(path: Path, fmt: str):
    from ptrun import registry

    if not path.is_file():
        raise DataError("no such data file", path=path, hint="Check the path you passed.")
    readers = registry.readers()
    if fmt not in readers:
        raise DataError(
            f"no reader for format '{fmt}' (known formats: {', '.join(sorted(readers))})",
            path=path,
            hint="Pass --format with one of the known formats, or install a plugin that reads this one.",
        )
    return readers[fmt]


def _no_examples(path: Path) -> DataError:
    return DataError("the file holds no examples", path=path, hint="Check that it is the right file.")


def read_records(path, fmt: str) -> list[Record]:
    """Read ``path`` with the reader registered for format ``fmt``."""
    path = Path(path)
    records = list(_reader(path, fmt)(path))
    if not records:
        raise _no_examples(path)
    return records


def bad_record(error: DataError, raw=None) -> DataError:
    """What a reader yields for a record it cannot read when asked to ``skip_bad``: the error it
    would raise, carrying the bad input (``raw``: its text, or its fields)."""
    error.raw = raw
    return error


def can_skip_bad(path, fmt: str) -> bool:
    """Whether the reader of ``fmt`` takes ``skip_bad`` (yields bad records as errors and reads on)."""
    import inspect

    try:
        params = inspect.signature(_reader(Path(path), fmt)).parameters
    except (TypeError, ValueError):
        return False
    return "skip_bad" in params


def iter_records(path, fmt: str, *, skip_bad: bool = False) -> Iterator[Record | DataError]:
    """The records of ``path``, one at a time, as :func:`read_records` reads them (same errors,
    raised when reading reaches them; a file without records is an error at its end).

    Readers that are generators stream (the built-in line formats); a reader returning a list
    reads its file whole. With ``skip_bad``, a reader that takes ``skip_bad`` (see
    :func:`can_skip_bad`) yields each record it cannot read as its :class:`DataError` (its
    ``raw`` attribute holds the bad input) and reads on; other readers raise as usual.
    """
    path = Path(path)
    reader = _reader(path, fmt)
    found = False
    for item in reader(path, skip_bad=True) if skip_bad and can_skip_bad(path, fmt) else reader(path):
        found = True
        yield item
    if not found:
        raise _no_examples(path)

"""Reading a data file with the reader its format names."""

from __future__ import annotations

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


def read_records(path, fmt: str) -> list[Record]:
    """Read ``path`` with the reader registered for format ``fmt``."""
    from ptrun import registry

    path = Path(path)
    if not path.is_file():
        raise DataError("no such data file", path=path, hint="Check the path you passed.")
    readers = registry.readers()
    if fmt not in readers:
        raise DataError(
            f"no reader for format '{fmt}' (known formats: {', '.join(sorted(readers))})",
            path=path,
            hint="Pass --format with one of the known formats, or install a plugin that reads this one.",
        )
    records = list(readers[fmt](path))
    if not records:
        raise DataError("the file holds no examples", path=path, hint="Check that it is the right file.")
    return records

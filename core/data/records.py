"""Examples and the raw records they come from.

Readers (registered through the ``ptrun_readers`` hook) turn a file into :class:`Record`
objects that remember where they came from; tasks turn records into :class:`Example` objects,
so every later error can name the file and line of the example at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptrun.errors import DataError


@dataclass
class Record:
    """The raw fields of one example as a reader found them, and where."""

    fields: dict[str, Any]
    path: str
    line: int | None


@dataclass
class Example:
    """One example of a task: an id, its fields (the template variables) and its origin."""

    id: str
    fields: dict[str, Any]
    path: str | None = None
    line: int | None = None
    #: False for examples read without a gold label (``--predict`` files, ``ptrun render``).
    labeled: bool = True
    meta: dict[str, Any] = field(default_factory=dict)

    def error(self, message: str, hint: str | None = None) -> DataError:
        return DataError(message, path=self.path, line=self.line, hint=hint)


def example_id(record: Record, key: str = "id") -> str:
    """The record's own ``id`` field, else ``<file stem>-<line>`` (``example-1`` for ``--example``)."""
    value = record.fields.get(key)
    if value not in (None, ""):
        return str(value)
    stem = Path(record.path.split(" ")[0]).stem.lstrip("-")  # "file.json item" or "--example"
    return stem if record.line is None else f"{stem}-{record.line}"


def require_field(record: Record, names: tuple[str, ...], what: str):
    """Return the first of ``names`` present in ``record`` or raise a DataError naming them."""
    for name in names:
        value = record.fields.get(name)
        if value is not None and value != "":
            return value
    blank = [n for n in names if n in record.fields]
    if blank:
        value = record.fields[blank[0]]
        state = "null" if value is None else "empty"
        raise DataError(
            f"the {what} is {state} (field '{blank[0]}')",
            path=record.path,
            line=record.line,
            hint=f"Give every example a {what}.",
        )
    present = ", ".join(sorted(record.fields)) or "none"
    wanted = " or ".join(f"'{n}'" for n in names)
    raise DataError(
        f"missing {what}: expected a field {wanted} (fields present: {present})",
        path=record.path,
        line=record.line,
        hint="Fix the example or rename the column/key.",
    )

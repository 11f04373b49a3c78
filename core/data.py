"""Examples, raw records and finding data files.

Readers (registered through the ``ptrun_readers`` hook) turn a file into :class:`Record`
objects that remember where they came from; tasks turn records into :class:`Example` objects,
so every later error can name the file and line of the example at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptrun.errors import DataError, PtrunError

EXTENSION_FORMATS = {
    ".tsv": "tsv",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".json": "json",
    ".txt": "conll",
    ".conll": "conll",
    ".iob": "conll",
    ".bio": "conll",
}

SPLIT_PREFIXES = {
    "train": ("train",),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test",),
}


@dataclass
class Record:
    """The raw fields of one example as a reader found them, and where."""

    fields: dict[str, Any]
    path: str
    line: int


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


def detect_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    fmt = EXTENSION_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"cannot tell the format of this file from its extension '{path.suffix}'",
            path=path,
            hint="Pass --format (for example tsv, csv, jsonl, json, conll) or rename the file.",
        )
    return fmt


def read_records(path, fmt: str | None = None) -> list[Record]:
    """Read ``path`` with the reader registered for its format."""
    from ptrun import registry

    path = Path(path)
    if not path.is_file():
        raise DataError("no such data file", path=path, hint="Check the path you passed.")
    fmt = detect_format(path, fmt)
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


def _split_of(name: str) -> str | None:
    name = name.lower()
    for split, prefixes in SPLIT_PREFIXES.items():
        if name.startswith(prefixes):
            return split
    return None


def _pick_in_split_folder(folder: Path, split: str, extensions: tuple[str, ...]) -> list[Path]:
    """The data file of a split folder (``train/``, ``dev/``...): its only file with a task
    extension, or, among several, the one whose name the others extend (DailyDialog's
    ``dialogues_train.txt`` beside ``dialogues_act_train.txt``, its annotations)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions)
    if len(files) <= 1:
        return files
    split_words = {split, *SPLIT_PREFIXES[split]}

    def base(path: Path) -> str:
        words = [w for w in path.stem.lower().replace("-", "_").split("_") if w not in split_words]
        return "_".join(words)

    for candidate in files:
        stem = base(candidate)
        if all(other is candidate or base(other).startswith(stem + "_") for other in files):
            from ptrun.runner import echo

            others = ", ".join(p.name for p in files if p is not candidate)
            echo(f"--data: using {candidate} for the {split} split (not {others}).")
            return [candidate]
    return files


def find_splits(data_dir, extensions: tuple[str, ...]) -> dict[str, Path]:
    """Find train/validation/test files in ``data_dir`` by their names (``dev.tsv``, ...), or
    in split sub-folders (``train/``, ``validation/``, ``test/``) when it has none."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise PtrunError(
            f"--data {data_dir}: no such directory.",
            hint="Pass a directory holding train/dev/test files, or use --train/--validation/--test.",
        )
    found: dict[str, list[Path]] = {}
    entries = sorted(data_dir.iterdir())
    for path in entries:
        split = _split_of(path.stem)
        if split and path.is_file() and path.suffix.lower() in extensions:
            found.setdefault(split, []).append(path)
    if not found:
        for folder in entries:
            split = _split_of(folder.name) if folder.is_dir() else None
            if split:
                found.setdefault(split, []).extend(_pick_in_split_folder(folder, split, extensions))
        found = {split: paths for split, paths in found.items() if paths}
    for split, paths in found.items():
        if len(paths) > 1:
            names = ", ".join(str(p.relative_to(data_dir)) for p in paths)
            raise PtrunError(
                f"--data {data_dir}: several files look like the {split} split ({names}).",
                hint=f"Pass the one you mean with --{split}.",
            )
    if not found:
        raise PtrunError(
            f"--data {data_dir}: found no train/dev/test files with extension {', '.join(extensions)}.",
            hint="Name them train.*, dev.* (or validation.*) and test.*, or put them in train/, dev/ "
            "and test/ folders, or pass them explicitly.",
        )
    return {split: paths[0] for split, paths in found.items()}


def require_field(record: Record, names: tuple[str, ...], what: str):
    """Return the first of ``names`` present in ``record`` or raise a DataError naming them."""
    for name in names:
        value = record.fields.get(name)
        if value is not None and value != "":
            return value
    present = ", ".join(sorted(record.fields)) or "none"
    wanted = " or ".join(f"'{n}'" for n in names)
    raise DataError(
        f"missing {what}: expected a field {wanted} (fields present: {present})",
        path=record.path,
        line=record.line,
        hint="Fix the example or rename the column/key.",
    )

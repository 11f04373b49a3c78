"""Finding the train/validation/test files of ``--data DIR`` by their names."""

from __future__ import annotations

from pathlib import Path

from ptrun.errors import PtrunError

SPLIT_PREFIXES = {
    "train": ("train",),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test",),
}


def _split_of(name: str) -> str | None:
    name = name.lower()
    for split, prefixes in SPLIT_PREFIXES.items():
        if name.startswith(prefixes):
            return split
    return None


def find_splits(data_dir, task) -> dict[str, Path]:
    """Find train/validation/test files in ``data_dir`` by their names (``dev.tsv``, ...), or
    in split sub-folders (``train/``, ``validation/``, ``test/``) when it has none. Files count
    when ``task.formats`` has their extension; in a split folder with several,
    ``task.split_file`` picks."""
    data_dir = Path(data_dir)
    extensions = tuple(task.formats)
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
                files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions)
                found.setdefault(split, []).extend(task.split_file(folder, split, files) if len(files) > 1 else files)
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



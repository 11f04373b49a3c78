"""The shipped demo data is byte for byte what its generator writes, and nothing more.

The generators (tools/demo_data/*.py for the built-in datasets, examples/ptrun-intent/tools/
make_data.py for the example plugin's) are stdlib-only and deterministic, so these tests are
fast and import neither ptrun nor torch. When one fails, rerun the command in its message and
commit the data together with the generator change.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"
DEMO = REPO / "plugins" / "demo"
INTENT = REPO / "examples" / "ptrun-intent"

#: dataset -> (generator script, folder of the shipped files)
DATASETS = {
    "ner": (TOOLS / "demo_data" / "ner.py", DEMO / "ner"),
    "sentiment": (TOOLS / "demo_data" / "sentiment.py", DEMO / "sentiment"),
    "qa": (TOOLS / "demo_data" / "qa.py", DEMO / "qa"),
    "dialogue": (TOOLS / "demo_data" / "dialogue.py", DEMO / "dialogue"),
    "intent": (INTENT / "tools" / "make_data.py", INTENT / "ptrun_intent" / "data"),
}


def show(path: Path) -> str:
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)


def command(dataset: str) -> str:
    return "python3 " + show(DATASETS[dataset][0])


def import_tools(name: str) -> ModuleType:
    """``demo_data.<name>`` from tools/, without leaving tools/ on sys.path."""
    sys.path.insert(0, str(TOOLS))
    try:
        return importlib.import_module("demo_data." + name)
    finally:
        sys.path.remove(str(TOOLS))


@functools.cache
def generator(dataset: str) -> ModuleType:
    if dataset == "intent":  # a script of the example package, not importable by name
        spec = importlib.util.spec_from_file_location("_ptrun_intent_make_data", DATASETS[dataset][0])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return import_tools(dataset)


@functools.cache
def built(dataset: str) -> dict[str, str]:
    return generator(dataset).build()


def first_difference(a: bytes, b: bytes) -> str:
    for number, (x, y) in enumerate(zip(a.split(b"\n"), b.split(b"\n")), 1):
        if x != y:
            return f"line {number}: shipped {x[:80]!r}, generated {y[:80]!r}"
    return f"lengths differ: shipped {len(a)} bytes, generated {len(b)} bytes"


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_shipped_files_are_what_the_generator_writes(dataset):
    folder = DATASETS[dataset][1]
    files = built(dataset)
    assert files, f"{dataset}: build() returned no files"
    for name, text in files.items():
        path = folder / name
        rel = show(path)
        if not path.is_file():
            pytest.fail(f"{rel} is missing; regenerate it with `{command(dataset)}`")
        shipped, generated = path.read_bytes(), text.encode("utf-8")
        if shipped != generated:  # not a plain assert: pytest would print both files
            pytest.fail(f"{rel} is not what its generator writes ({first_difference(shipped, generated)}); "
                        f"regenerate it with `{command(dataset)}`")


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_generator_writes_every_shipped_file_and_no_other(dataset):
    folder = DATASETS[dataset][1]
    module = generator(dataset)
    assert Path(module.OUT_DIR).resolve() == folder.resolve(), f"{command(dataset)} writes elsewhere by default"
    shipped = sorted(p.name for p in folder.iterdir() if p.is_file())
    generated = sorted(built(dataset))
    assert shipped == generated, (
        f"{show(folder)}: stale files {sorted(set(shipped) - set(generated))}, "
        f"missing files {sorted(set(generated) - set(shipped))} (`{command(dataset)}` writes {generated})")


def test_demo_data_stays_small():
    """All of it together, the example's included, keeps within the generators' budget."""
    limit = import_tools("common").MAX_TOTAL_BYTES
    sizes = {show(p): p.stat().st_size
             for _, folder in DATASETS.values() for p in sorted(folder.iterdir()) if p.is_file()}
    assert sum(sizes.values()) < limit, (sum(sizes.values()), limit, sizes)

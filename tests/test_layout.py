"""The house rules, checked on the source: the core knows no task, plugins use the public API,
modules stay small."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "core"
#: Names that are task knowledge: datasets, tag schemes, the built-in tasks and model aliases.
TASK_WORDS = re.compile(
    r"conll|\biob[12]?\b|\bbio\b|\bB-[A-Z]|squad|dailydialog|\bner\b|sentiment|dialogue|\bqa\b|minilm|smollm2|"
    r"\bentit(y|ies)\b|TOKEN_CLS|QUESTION_ANS",
    re.I,
)
#: Modules a plugin may import besides ``ptrun`` itself (the README lists them as public).
PUBLIC_MODULES = {"ptrun", "ptrun.backends.device", "ptrun.backends.loading", "ptrun.backends.kernels"}


def _code_without_docstrings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the code and comments of ``path``, docstrings left out: a docstring may
    explain an extension point with an example; code and comments may not know a task."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    doc_lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    # Attribute docs (`#:` comments) and other comments count: they are not docstrings.
    return [(i, line) for i, line in enumerate(source.splitlines(), 1) if i not in doc_lines]


def test_core_knows_no_task():
    hits = [
        f"{path.relative_to(REPO)}:{i}: {line.strip()}"
        for path in sorted(CORE.rglob("*.py"))
        for i, line in _code_without_docstrings(path)
        if TASK_WORDS.search(line)
    ]
    assert not hits, "task knowledge in core/ (move it to the task's plugin):\n" + "\n".join(hits)


def test_the_task_word_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Docstrings may say CoNLL."""\nFORMATS = {".txt": "conll"}\n', encoding="utf-8")
    assert [i for i, line in _code_without_docstrings(bad) if TASK_WORDS.search(line)] == [2]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import; ``from ptrun import x`` counts as ``ptrun.x`` unless ``x``
    is a name of the public API (``ptrun.__all__``)."""
    import ptrun

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ptrun":
                found += [(node.lineno, "ptrun" if a.name in ptrun.__all__ else f"ptrun.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


PLUGIN_FILES = sorted((REPO / "plugins").rglob("*.py")) + sorted((REPO / "examples").rglob("*.py"))


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_plugins_import_only_the_public_api(path):
    bad = [
        f"{path.relative_to(REPO)}:{line}: {module}"
        for line, module in _imports(path)
        if module.startswith("ptrun") and not module.startswith("ptrun_")
        and module not in PUBLIC_MODULES and not module.startswith("ptrun.plugins")
    ]
    assert not bad, "plugins import only `ptrun` and the public backend helpers:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")) + sorted((REPO / "plugins").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_modules_stay_small(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 400, f"{path.relative_to(REPO)} has {lines} lines: split it by job"


def test_core_never_imports_a_plugin():
    bad = [f"{p.relative_to(REPO)}:{line}" for p in CORE.rglob("*.py") for line, m in _imports(p) if m.startswith("ptrun.plugins")]
    assert not bad

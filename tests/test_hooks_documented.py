"""Meta-test: every hook in the plugin contract is documented and has a test of its own.

Naming, as datasette requires ``test_hook_<hook>``: for each hookspec in :mod:`ptrun.hookspecs`
some module under tests/ must define a test function named ``test_hook_<full hook name>``,
optionally followed by ``_<anything>``: ``test_hook_ptrun_tasks`` or
``test_hook_ptrun_tasks_later_plugin_wins`` for ``ptrun_tasks``. A test counts for the longest
hook name its name starts with (so a future ``ptrun_metrics_report`` hook would need tests of its
own). Test names are collected by parsing the test files with :mod:`ast`: module-level ``test_*``
functions and ``test_*`` methods of ``Test*`` classes, the ones pytest runs; a name in a comment,
a string or a nested helper function does not count. This module itself is not searched.

Adding a hookspec without a docstring that explains it and names its arguments, or without such
a test, fails the suite.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from ptrun import hookspecs, registry

TESTS = Path(__file__).resolve().parent


def hookspec_functions() -> dict:
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("ptrun_")
    }


HOOKS = sorted(hookspec_functions())


def collected_test_names(source: str) -> set[str]:
    """Names of the test functions pytest would collect from a module's ``source``."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names.update(
                item.name
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test_")
            )
    return names


def all_collected_test_names() -> dict[str, str]:
    """Test function name -> the file (relative to tests/) defining it, over every other test module."""
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        if path.resolve() == Path(__file__).resolve():
            continue
        for name in collected_test_names(path.read_text(encoding="utf-8")):
            found.setdefault(name, str(path.relative_to(TESTS)))
    return found


def hook_of(test_name: str, hooks=HOOKS) -> str | None:
    """The hook a test is named for (the longest hook name it starts with), or None."""
    matches = [h for h in hooks if test_name == f"test_hook_{h}" or test_name.startswith(f"test_hook_{h}_")]
    return max(matches, key=len, default=None)


def test_hookspecs_are_found():
    assert len(HOOKS) >= 9
    assert {"ptrun_tasks", "ptrun_template_dirs", "ptrun_jinja_env", "ptrun_render_context", "ptrun_label_map",
            "ptrun_metrics", "ptrun_readers", "ptrun_models", "ptrun_commands"} <= set(HOOKS)
    # Every ptrun_* function in the module is a real hookspec, known to the plugin manager ...
    for name, fn in hookspec_functions().items():
        assert hasattr(fn, "ptrun_spec"), f"{name} is not marked @hookspec"
        assert getattr(registry.pm.hook, name).spec is not None
    # ... and every hookspec the plugin manager knows is one of them.
    specced = {name for name in dir(registry.pm.hook) if getattr(getattr(registry.pm.hook, name), "spec", None)}
    assert specced == set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_docstring(name):
    doc = inspect.getdoc(hookspec_functions()[name]) or ""
    assert len(doc) >= 60 and len(doc.split()) >= 10, f"hook {name} needs a docstring that explains it"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_arguments_are_documented(name):
    """Each argument is named as code (``arg``, or inside a code span like ``arg.method()``)."""
    doc = inspect.getdoc(hookspec_functions()[name]) or ""
    spans = re.findall(r"``(.+?)``", doc)
    for arg in inspect.signature(hookspec_functions()[name]).parameters:
        assert any(re.search(rf"\b{re.escape(arg)}\b", span) for span in spans), (
            f"hook {name}: docstring does not document argument {arg!r} (write it as ``{arg}``)"
        )


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name):
    tests = sorted(t for t in all_collected_test_names() if hook_of(t) == name)
    assert tests, f"no test function named test_hook_{name} (or test_hook_{name}_...) under tests/; add one that exercises the hook"


def test_collector_counts_only_real_test_functions():
    source = '''
# def test_hook_ptrun_models(): a comment does not count
"""def test_hook_ptrun_readers(): nor a docstring"""
NAME = "test_hook_ptrun_commands"

def helper():
    def test_hook_ptrun_metrics():  # nested: pytest never runs it
        pass

def test_hook_ptrun_tasks_later_plugin_wins():
    pass

async def test_hook_ptrun_jinja_env():
    pass

class TestThings:
    def test_hook_ptrun_label_map(self):
        pass

class Helper:
    def test_hook_ptrun_render_context(self):
        pass
'''
    names = collected_test_names(source)
    assert names == {"test_hook_ptrun_tasks_later_plugin_wins", "test_hook_ptrun_jinja_env", "test_hook_ptrun_label_map"}
    assert {hook_of(n) for n in names} == {"ptrun_tasks", "ptrun_jinja_env", "ptrun_label_map"}


def test_hook_of_picks_the_longest_hook_name():
    hooks = ["ptrun_metrics", "ptrun_metrics_report"]
    assert hook_of("test_hook_ptrun_metrics", hooks) == "ptrun_metrics"
    assert hook_of("test_hook_ptrun_metrics_later_plugin_wins", hooks) == "ptrun_metrics"
    assert hook_of("test_hook_ptrun_metrics_report_is_merged", hooks) == "ptrun_metrics_report"
    assert hook_of("test_hook_ptrun_metricsfoo", hooks) is None
    assert hook_of("test_hook_has_docstring", hooks) is None

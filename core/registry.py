"""What the loaded plugins provide: tasks, readers, model aliases, template directories.

Each accessor is computed once per process from the plugin hooks.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ptrun import plugin_manager as plugins
from ptrun.errors import PtrunError


def _did_you_mean(name: str, known) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


@functools.cache
def tasks() -> dict:
    """Task name -> Task, with ``task.plugin`` set to the plugin that provided it."""
    found = {}
    # Registration order, so that a later plugin cannot silently replace an earlier task.
    for plugin_name, provided in reversed(list(plugins.call_each("ptrun_tasks"))):
        for task in provided:
            if task.name in found:
                info = plugins.PLUGINS.get(plugin_name)
                if info is not None and not info.error:
                    info.error = (
                        f"task '{task.name}' is already provided by plugin "
                        f"'{found[task.name].plugin}'; this one was ignored"
                    )
                continue
            task.plugin = plugin_name
            found[task.name] = task
    return dict(sorted(found.items()))


def get_task(name: str):
    known = tasks()
    if name not in known:
        listing = ", ".join(known) or "none"
        raise PtrunError(
            f"Unknown task '{name}' (installed tasks: {listing}).{_did_you_mean(name, known)}",
            hint="Run `ptrun tasks` to list tasks and `ptrun plugins` to see plugins that failed to load.",
        )
    return known[name]


@functools.cache
def readers() -> dict:
    """Format name -> reader callable."""
    found = {}
    for _plugin, provided in plugins.call_each("ptrun_readers"):
        for fmt, reader in provided.items():
            found.setdefault(fmt, reader)  # later-registered plugins come first and win
    return found


@functools.cache
def models() -> dict:
    """Model alias -> ModelSpec."""
    found = {}
    for _plugin, provided in plugins.call_each("ptrun_models"):
        for alias, spec in provided.items():
            found.setdefault(alias, spec)
    return dict(sorted(found.items()))


@functools.cache
def plugin_template_dirs() -> tuple[tuple[str, Path], ...]:
    """(plugin name, directory) pairs from the ``ptrun_template_dirs`` hook, ptrun's own last."""
    dirs = []
    for plugin_name, provided in plugins.call_each("ptrun_template_dirs"):
        info = plugins.PLUGINS.get(plugin_name)
        origin = (info.distribution if info and info.distribution else None) or plugin_name
        dirs.extend((origin, Path(d)) for d in provided)
    return tuple(dirs)


def clear() -> None:
    """Forget cached registry contents (after registering or unregistering a plugin)."""
    for fn in (tasks, readers, models, plugin_template_dirs):
        fn.cache_clear()

"""Plugins: finding and loading them, calling their hooks, and what they provide.

Plugins come from the ``ptrun`` entry-point group (the built-in tasks too, in ptrun's own
distribution) plus ptrun's default reader plugin. Loading order is fixed: the default plugin,
then ptrun's own entry points, then every other distribution's, sorted by distribution and
entry-point name. Every hook combines by the one rule stated in :mod:`ptrun.hookspecs`: the
plugin registered later wins.

A plugin that fails to import, to register or inside a hook is recorded in :data:`PLUGINS`
(``ptrun plugins`` shows it) and skipped; the rest keeps working. ``PTRUN_LOAD_PLUGINS``
(comma-separated entry-point or distribution names) restricts which installed plugins load; an
empty string loads none.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pluggy

from ptrun import hookspecs
from ptrun.errors import PtrunError

ENTRY_POINT_GROUP = "ptrun"
DISTRIBUTION = "ptrun"
DEFAULT_PLUGINS = ("ptrun.data.readers",)


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    #: What this plugin replaced of earlier plugins ("task 'x' of plugin 'y'").
    overrides: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": self.hooks,
            "error": self.error,
            "overrides": self.overrides,
        }


pm = pluggy.PluginManager("ptrun")
pm.add_hookspecs(hookspecs)

PLUGINS: dict[str, PluginInfo] = {}
_loaded = False


def _summarise(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _hook_names(plugin) -> list[str]:
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])


def _validate(plugin) -> None:
    unknown, wrappers = [], []
    for attr in dir(plugin):
        if not attr.startswith("ptrun_"):
            continue
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        # pluggy creates a caller for any implemented name; only ours have a spec.
        if getattr(getattr(pm.hook, attr, None), "spec", None) is None:
            unknown.append(attr)
        if opts.get("hookwrapper") or opts.get("wrapper"):
            wrappers.append(attr)
    if unknown:
        raise pluggy.PluginValidationError(plugin, f"implements unknown hook(s) {', '.join(unknown)}")
    if wrappers:
        raise pluggy.PluginValidationError(
            plugin,
            f"{', '.join(wrappers)}: ptrun calls each plugin's hook on its own (so one broken plugin "
            "cannot break the others) and does not support hook wrappers; use tryfirst/trylast",
        )


def register(plugin, name: str, info: PluginInfo | None = None) -> PluginInfo:
    """Register ``plugin`` under ``name``, recording (not raising) any validation error.

    The installed plugins are loaded first, so a plugin registered in-process counts as
    registered after them (and wins over them, by the rule of :mod:`ptrun.hookspecs`)."""
    load_plugins()
    info = info or PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)))
    try:
        pm.register(plugin, name=name)
        try:
            _validate(plugin)
        except Exception:
            pm.unregister(plugin)
            raise
    except Exception as exc:  # a plugin's own bug must not take ptrun down
        info.error = _summarise(exc)
    else:
        info.hooks = _hook_names(plugin)
    PLUGINS[name] = info
    clear()
    return info


def unregister(name: str) -> None:
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin)
    PLUGINS.pop(name, None)
    clear()


def _allowed() -> set[str] | None:
    value = os.environ.get("PTRUN_LOAD_PLUGINS")
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _entry_points() -> list:
    """ptrun's own entry points first, then the others by (distribution, name): a fixed order,
    so that which plugin wins never depends on how sys.path happens to be laid out."""
    eps = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))

    def key(ep):
        dist = ep.dist.name if ep.dist else ""
        return (dist != DISTRIBUTION, dist, ep.name)

    return sorted(eps, key=key)


def load_plugins() -> None:
    """Load the default plugins and the entry points, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        register(module, module_name, PluginInfo(name=module_name, module=module_name, distribution=DISTRIBUTION))
    allowed = _allowed()
    for ep in _entry_points():
        dist = ep.dist.name if ep.dist else None
        if allowed is not None and ep.name not in allowed and dist not in allowed:
            continue
        if ep.name in PLUGINS:
            continue  # the same distribution seen twice on sys.path
        info = PluginInfo(name=ep.name, module=ep.value, distribution=dist, version=ep.dist.version if ep.dist else None)
        try:
            plugin = ep.load()
        except BaseException as exc:  # SystemExit from a broken plugin must not exit ptrun
            if isinstance(exc, KeyboardInterrupt):
                raise
            info.error = _summarise(exc)
            PLUGINS[ep.name] = info
            continue
        register(plugin, ep.name, info)


def load_errors() -> list[PluginInfo]:
    load_plugins()
    return [info for info in PLUGINS.values() if info.error]


def _record_failure(plugin_name: str, hook_name: str, exc: BaseException) -> None:
    info = PLUGINS.setdefault(plugin_name, PluginInfo(name=plugin_name, module=plugin_name))
    if not info.error:
        info.error = f"hook {hook_name} failed: {_summarise(exc)}"


def call_each(hook_name: str, *, earliest_first: bool = False, **kwargs):
    """Call ``hook_name`` on each plugin on its own, yielding ``(plugin_name, result)`` for the
    results that are not None, in pluggy's call order: the plugin registered last first.

    A plugin whose hook raises (anything but a :class:`PtrunError`, which is a message for the
    user) is recorded as broken with its name and skipped.
    """
    load_plugins()
    hook_caller = getattr(pm.hook, hook_name)
    impls = hook_caller.get_hookimpls()  # pluggy's order: the latest-registered plugin last
    for impl in (impls if earliest_first else reversed(impls)):
        try:
            result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except PtrunError:
            raise
        except (Exception, SystemExit) as exc:  # sys.exit() in a hook must not exit ptrun either
            _record_failure(impl.plugin_name, hook_name, exc)
            continue
        if result is not None:
            yield impl.plugin_name, result


def in_registration_order(hook_name: str, expect: type | tuple = object, **kwargs):
    """``(plugin_name, result)`` like :func:`call_each`, but calling the earliest-registered
    plugin first, so that a caller updating a dict with each result (or a hook that sets names on
    a shared object, like a Jinja environment or the click group) lets the later plugin win. A result that is not an
    ``expect`` is recorded as the plugin's failure and skipped."""
    for plugin, result in call_each(hook_name, earliest_first=True, **kwargs):
        if not isinstance(result, expect):
            wanted = expect.__name__ if isinstance(expect, type) else " or ".join(t.__name__ for t in expect)
            _record_failure(plugin, hook_name, TypeError(f"returned a {type(result).__name__}, not a {wanted}"))
            continue
        yield plugin, result


def first_result(hook_name: str, **kwargs):
    """The answer of the latest-registered plugin that answers (not None), or None."""
    for _plugin, result in call_each(hook_name, **kwargs):
        return result
    return None


#: How PluginInfo.overrides names what a hook provides ("task 'x' of plugin 'y'").
_NOUNS = {"ptrun_tasks": "task", "ptrun_readers": "reader", "ptrun_models": "model"}


def merged(hook_name: str, name_of=None, **kwargs) -> dict[str, tuple[str, object]]:
    """Name -> (plugin, value) over the dicts a hook returns (or, with ``name_of``, over the
    iterables it returns, named by ``name_of(item)``); on a name two plugins give, the one
    registered later wins, and is noted as overriding the other.

    The notes are worked out afresh on every call (the registry caches are cleared whenever a
    plugin comes or goes), so they never repeat nor name a plugin that is gone. A plugin whose
    result cannot be read (not a dict, not an iterable of named things) is recorded as broken
    and skipped, like one whose hook raises."""
    noun = _NOUNS.get(hook_name, hook_name.removeprefix("ptrun_"))
    found: dict[str, tuple[str, object]] = {}
    notes: dict[str, list[str]] = {}
    for plugin, provided in reversed(list(call_each(hook_name, **kwargs))):  # earliest first
        try:
            items = list(dict(provided).items() if name_of is None else ((name_of(v), v) for v in provided))
        except Exception as exc:
            _record_failure(plugin, hook_name, exc)
            continue
        for key, value in items:
            if key in found and found[key][0] != plugin:
                notes.setdefault(plugin, []).append(f"{noun} '{key}' of plugin '{found[key][0]}'")
            found[key] = (plugin, value)
    for plugin in notes:
        PLUGINS.setdefault(plugin, PluginInfo(name=plugin, module=plugin))
    for name, info in PLUGINS.items():
        kept = [note for note in info.overrides if not note.startswith(f"{noun} '")]
        info.overrides = kept + notes.get(name, [])
    return found


# --------------------------------------------------------------------------- what plugins provide


def _did_you_mean(name: str, known) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


@functools.cache
def tasks() -> dict:
    """Task name -> Task, with ``task.plugin`` set to the plugin that provided it."""
    found = {}
    for name, (plugin, task) in merged("ptrun_tasks", name_of=lambda task: task.name).items():
        task.plugin = plugin
        found[name] = task
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
    return {fmt: reader for fmt, (_plugin, reader) in merged("ptrun_readers").items()}


@functools.cache
def models() -> dict:
    """Model alias -> ModelSpec."""
    return dict(sorted((alias, spec) for alias, (_plugin, spec) in merged("ptrun_models").items()))


@functools.cache
def plugin_template_dirs() -> tuple[tuple[str, Path], ...]:
    """(origin, directory) pairs from ``ptrun_template_dirs`` in lookup order: the plugin
    registered later first, so its ``task/name`` templates win."""
    dirs = []
    for plugin_name, provided in call_each("ptrun_template_dirs"):
        info = PLUGINS.get(plugin_name)
        origin = (info.distribution if info and info.distribution else None) or plugin_name
        try:
            if isinstance(provided, (str, os.PathLike)):  # iterating it would give its letters
                raise TypeError(f"returned one path ({provided!s}) instead of a list of paths")
            paths = [Path(d) for d in provided]
        except Exception as exc:
            _record_failure(plugin_name, "ptrun_template_dirs", exc)
            continue
        dirs.extend((origin, d) for d in paths)
    return tuple(dirs)


def clear() -> None:
    """Forget cached registry contents (after registering or unregistering a plugin)."""
    for fn in (tasks, readers, models, plugin_template_dirs):
        fn.cache_clear()

"""Finding and loading plugins.

Plugins come from the ``ptrun`` entry-point group (the built-in tasks too) plus ptrun's own
default plugins. A plugin that fails to import or to register is recorded in
:data:`LOAD_ERRORS` and reported by ``ptrun plugins``; everything else keeps working.
``PTRUN_LOAD_PLUGINS`` (comma-separated entry-point names, or distribution names) restricts
which installed plugins load; set it to an empty string to load none.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import traceback
from dataclasses import dataclass, field

import pluggy

from ptrun import hookspecs

ENTRY_POINT_GROUP = "ptrun"
DEFAULT_PLUGINS = ("ptrun.readers", "ptrun.classification")


@dataclass
class PluginInfo:
    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": self.hooks,
            "error": self.error,
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


def register(plugin, name: str, info: PluginInfo | None = None) -> PluginInfo:
    """Register ``plugin`` under ``name``, recording (not raising) any validation error."""
    info = info or PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)))
    try:
        pm.register(plugin, name=name)
        unknown = [
            attr
            for attr in dir(plugin)
            if attr.startswith("ptrun_") and pm.parse_hookimpl_opts(plugin, attr) is not None
            # pluggy creates a caller for any implemented name; only ours have a spec.
            and getattr(getattr(pm.hook, attr, None), "spec", None) is None
        ]
        if unknown:
            pm.unregister(plugin)
            raise pluggy.PluginValidationError(
                plugin, f"implements unknown hook(s) {', '.join(unknown)}"
            )
    except Exception as exc:  # a plugin's own bug must not take ptrun down
        info.error = _summarise(exc)
    else:
        info.hooks = _hook_names(plugin)
    PLUGINS[name] = info
    return info


def _allowed() -> set[str] | None:
    value = os.environ.get("PTRUN_LOAD_PLUGINS")
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def load_plugins() -> None:
    """Load default plugins and entry points once (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        register(module, module_name, PluginInfo(name=module_name, module=module_name, distribution="ptrun"))
    allowed = _allowed()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else None
        if allowed is not None and ep.name not in allowed and dist not in allowed:
            continue
        if ep.name in PLUGINS:
            continue  # the same distribution seen twice on sys.path
        info = PluginInfo(
            name=ep.name,
            module=ep.value,
            distribution=dist,
            version=ep.dist.version if ep.dist else None,
        )
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


def call_each(hook_name: str, **kwargs):
    """Call ``hook_name`` on each plugin separately, yielding ``(plugin_name, result)``.

    Unlike calling ``pm.hook.<name>()`` directly this keeps track of which plugin returned
    what, and a plugin whose hook raises is recorded as broken instead of aborting the call.
    """
    load_plugins()
    hook_caller = getattr(pm.hook, hook_name)
    # pluggy calls later-registered plugins first; keep that order so overrides behave the same.
    for impl in reversed(hook_caller.get_hookimpls()):
        try:
            result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except Exception as exc:
            from ptrun.errors import PtrunError

            if isinstance(exc, PtrunError):
                raise
            info = PLUGINS.get(impl.plugin_name)
            message = f"hook {hook_name} failed: {_summarise(exc)}"
            if info is not None and not info.error:
                info.error = message
            continue
        if result is not None:
            yield impl.plugin_name, result

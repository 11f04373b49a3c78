"""The plugin contract.

A plugin is any module or object with functions marked ``@ptrun.hookimpl`` whose names are the
hooks below. Installed plugins are found through the ``ptrun`` entry-point group; the built-in
tasks are registered exactly the same way. Every hook is optional.

The hooks are for registering things (tasks, readers, models, templates, commands) and for
additions that cut across tasks (a variable or a metric for every task). What one task does
(its label map, its metrics, its formats, the methods it supports) lives on its
:class:`ptrun.Task`.

**How results combine, for every hook: the plugin registered later wins.** Plugins are
registered in a fixed order (ptrun's default reader plugin, ptrun's own entry points, then other
distributions sorted by distribution and entry-point name); ``@hookimpl(tryfirst=True)`` makes
a plugin count as registered last, ``trylast=True`` as first. So for hooks that name things
(tasks, readers, model aliases, template ``task/name``, context variables, metric names) a
later plugin's entry replaces an earlier one's (``ptrun plugins`` lists the tasks, readers and
model aliases each plugin replaced; ``ptrun templates`` the templates that shadow others), and
for ``ptrun_label_map`` the latest plugin that answers (not None) is used. Each plugin's hook is
called on its own: one that raises is reported by name (``ptrun plugins``) and skipped. Hook
wrappers are not supported.

Plugin modules are imported by ``ptrun --help``: keep their top level free of torch and
transformers imports and import those inside the methods that need them.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("ptrun")
hookimpl = pluggy.HookimplMarker("ptrun")


@hookspec
def ptrun_tasks():
    """Return the tasks this plugin provides: an iterable of :class:`ptrun.Task` instances.

    Each task becomes a ``ptrun <name>`` command and is listed by ``ptrun tasks``. A task named
    like an earlier plugin's replaces it (later wins).
    """


@hookspec
def ptrun_template_dirs():
    """Return directories holding ``<task>/<name>.j2`` template files (iterable of paths).

    Templates are then referenced as ``task/name``. Directories given with ``--template-dir``
    or ``PTRUN_TEMPLATE_PATH`` come first, then plugin directories, the later-registered plugin's
    first (later wins), so ptrun's own come last.
    """


@hookspec
def ptrun_jinja_env(env):
    """Customise the sandboxed Jinja2 environment: add filters, tests or globals in place.

    ``env`` is a :class:`jinja2.sandbox.ImmutableSandboxedEnvironment`. Return nothing.
    Anything added is callable from untrusted templates, so add only side-effect free helpers.
    """


@hookspec
def ptrun_render_context(task, example):
    """Return extra template variables for rendering ``example`` of ``task`` (a dict, or None).

    For additions to many tasks; a task's own variables come from :meth:`ptrun.Task.context`.
    The dicts are merged over the task's context, the later-registered plugin winning on a name
    it shares with another. Names that templates may use must also appear in ``Task.variables``
    so that templates can be checked before rendering.
    """


@hookspec
def ptrun_label_map(task, labels, prompt):
    """Return a :class:`ptrun.LabelMap` to use instead of ``task.label_map(labels, prompt)``, or None.

    For overriding another plugin's task (a task builds its own with :meth:`ptrun.Task.label_map`).
    ``labels`` is the sorted list of distinct labels of the training split (for tagging tasks,
    the tags); ``prompt`` is the :class:`ptrun.Prompt` in use, or None. The latest-registered
    plugin that answers wins.
    """


@hookspec
def ptrun_metrics(task, predictions, references, label_map):
    """Return extra metric values for a finished prediction pass (a flat dict of name -> number, or None).

    For metrics added to many tasks; a task's own come from :meth:`ptrun.Task.metrics`.
    ``task`` is the :class:`ptrun.Task` that made the predictions; ``predictions`` and
    ``references`` are parallel lists in the task's prediction format (a label name for
    classification, a list of tags for tagging, ...); classification references are already
    label names. ``label_map`` is the run's :class:`ptrun.LabelMap`. The dicts are merged over
    the task's own metrics into ``metrics.json``, the later-registered plugin winning on a shared
    name. Non-numeric detail (per-class reports) may be returned under a key ending in ``_report``.
    """


@hookspec
def ptrun_readers():
    """Return data readers by format name: a dict ``{"jsonl": reader, ...}``.

    A reader is ``reader(path) -> iterable of ptrun.Record`` (the raw fields of one example
    and the line it came from). Which format a file has is up to the task
    (:attr:`ptrun.Task.formats`, by extension) or ``--format``. Readers raise
    :class:`ptrun.DataError` naming the file and line on bad input. Later wins on a shared name.
    """


@hookspec
def ptrun_models():
    """Return model aliases: a dict ``{"my-model": ptrun.ModelSpec(...), ...}`` (later wins).

    An alias resolves to a local directory (or a ``.gguf`` file) at run time, so a package
    carrying weights can make them available under a short name without any network access.
    """


@hookspec
def ptrun_commands(cli):
    """Add extra commands to the ``ptrun`` click group: call ``cli.add_command(...)``.

    Called once when the command-line interface is built. Return nothing.
    """

"""The plugin contract.

A plugin is any module or object with functions marked ``@ptrun.hookimpl`` whose names are the
hooks below. Installed plugins are found through the ``ptrun`` entry-point group; the built-in
tasks are registered exactly the same way. Every hook is optional. Hooks that return values are
called on every plugin and their results combined (in registration order, later plugins first,
as pluggy does) unless the hook says otherwise.

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

    Each task becomes a ``ptrun <name>`` command and is listed by ``ptrun tasks``. Task names
    must be unique across plugins; a duplicate is reported as a load error of the later plugin.
    """


@hookspec
def ptrun_template_dirs():
    """Return directories holding ``<task>/<name>.j2`` template files (iterable of paths).

    Templates are then referenced as ``task/name``. Directories given with ``--template-dir``
    or ``PTRUN_TEMPLATE_PATH`` come first, then plugin directories, then ptrun's own.
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

    Called for every example on every plugin; the dicts are merged over the example's own
    fields (plugins registered later win). Return None for tasks you do not handle. Names that
    a task's templates may use must also appear in ``Task.variables`` so that templates can be
    checked before rendering.
    """


@hookspec(firstresult=True)
def ptrun_label_map(task, labels, prompt):
    """Return the :class:`ptrun.LabelMap` for ``task`` given the labels seen in the training data.

    ``labels`` is the sorted list of distinct labels of the training split (for tagging tasks,
    the tags); ``prompt`` is the :class:`ptrun.prompts.Prompt` in use, or None, so its answer
    choices (verbalizer words) can be honoured. The first non-None result wins, so a plugin can
    override a built-in task's verbalizer with ``@hookimpl(tryfirst=True)``. When no plugin
    answers, ptrun builds a plain label map from ``labels`` and the template's answer choices.
    """


@hookspec
def ptrun_metrics(task, predictions, references, label_map):
    """Return metric values for a finished prediction pass (a flat dict of name -> number, or None).

    ``predictions`` and ``references`` are parallel lists in the task's prediction format
    (a label string for classification, a list of tags for tagging, ...). References are
    as the data spelled them; ``label_map`` (the run's :class:`ptrun.LabelMap`) turns aliases
    such as ``"1"`` into label names with ``label_map.canonical``. Called on every
    plugin, so a plugin may add metrics to any task; results are merged into ``metrics.json``.
    Non-numeric detail (per-class reports) may be returned under a key ending in ``_report``.
    """


@hookspec
def ptrun_readers():
    """Return data readers by format name: a dict ``{"jsonl": reader, ...}``.

    A reader is ``reader(path) -> iterable of ptrun.data.Record`` (the raw fields of one example
    and the line it came from). The format of a file is picked by its extension or by
    ``--format``. Readers raise :class:`ptrun.DataError` naming the file and line on bad input.
    """


@hookspec
def ptrun_models():
    """Return model aliases: a dict ``{"minilm": ptrun.models.ModelSpec(...), ...}``.

    An alias resolves to a local directory (or a ``.gguf`` file) at run time, so a package
    carrying weights can make them available under a short name without any network access.
    """


@hookspec
def ptrun_commands(cli):
    """Add extra commands to the ``ptrun`` click group: call ``cli.add_command(...)``.

    Called once when the command-line interface is built. Return nothing.
    """

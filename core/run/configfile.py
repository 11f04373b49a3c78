"""Options from a file: ``ptrun TASK --config run.yaml`` (YAML or JSON), checked like the command
line, and ``--print-config``.

Every key is a :class:`ptrun.config.RunConfig` option, spelled as its long option with ``-`` or
``_``; each value goes through the same click type as on the command line, so a file and the
command line accept exactly the same things. A run folder's ``config.json`` is a config file too:
its ``config`` part (the options the run used) replays the run.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import click

from ptrun.errors import PtrunError

#: Options of a run folder's config.json that are not replayed: a replay writes a new run folder.
NOT_REPLAYED = ("output_dir", "overwrite", "resume")


class Located(dict):
    """Option values with the line each key is on (``lines``), for error messages."""

    def __init__(self, values=(), lines=None):
        super().__init__(values)
        self.lines = dict(lines or {})


def _error(source, line, key, problem: str, hint: str | None = None) -> PtrunError:
    where = f"{source}:{line}: " if line else f"{source}: "
    return PtrunError(where + (f"{key}: " if key else "") + problem, hint=hint)


# -- reading a file -------------------------------------------------------------------------
def read_file(path) -> Located:
    """The options in a YAML or JSON file (a run folder's config.json gives its ``config`` part)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PtrunError(f"--config {path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PtrunError(f"--config {path}: cannot be read ({exc}).") from None
    values = _read_json(path, text) if path.suffix.lower() == ".json" else _read_yaml(path, text)
    if "ptrun_version" in values and isinstance(values.get("config"), dict):
        # A run folder's config.json: the options are its "config" part.
        options = values["config"]
        lines = getattr(options, "lines", {})
        return Located({k: v for k, v in options.items() if k not in NOT_REPLAYED}, lines)
    return values


def _read_yaml(path: Path, text: str) -> Located:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise _error(path, line, None, f"not valid YAML: {exc.problem or exc.context}.") from None
    except yaml.YAMLError as exc:
        raise _error(path, None, None, f"not valid YAML: {exc}.") from None
    if data is None:
        return Located()
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise _error(path, 1, None, "a config file is a mapping of option: value lines.",
                     hint="Write one option per line, e.g. `epochs: 3`.")
    return _located_yaml(path, node, data)


def _located_yaml(path, node, data: dict) -> Located:
    import yaml

    lines = {}
    for key_node, value_node in node.value:
        key = key_node.value
        if key in lines:
            raise _error(path, key_node.start_mark.line + 1, key, f"given twice (also on line {lines[key]}).")
        lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.MappingNode) and isinstance(data.get(key), dict):
            data[key] = _located_yaml(path, value_node, data[key])
    return Located(data, lines)


def _read_json(path: Path, text: str) -> Located:
    def pairs(items):
        seen = {}
        for key, value in items:
            if key in seen:
                raise _error(path, _json_line(text, key), key, "given twice.")
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise _error(path, exc.lineno, None, f"not valid JSON: {exc.msg}.") from None
    if not isinstance(data, dict):
        raise _error(path, 1, None, "a config file is a JSON object of option: value pairs.")
    start = _json_line(text, "config") if "ptrun_version" in data else 0
    located = Located(data, {k: _json_line(text, k) for k in data})
    if start and isinstance(data.get("config"), dict):
        # Lines of the options inside a run folder's "config" object come after its own line.
        located["config"] = Located(data["config"], {k: _json_line(text, k, after=start) for k in data["config"]})
    return located


def _json_line(text: str, key: str, after: int = 0) -> int | None:
    """The line (1-based) where ``"key":`` first appears after line ``after``."""
    pattern = re.compile(r'"' + re.escape(key) + r'"\s*:')
    for number, line in enumerate(text.splitlines(), 1):
        if number > after and pattern.search(line):
            return number
    return None


# -- checking values ------------------------------------------------------------------------
def _spellings() -> dict[str, str]:
    """Every accepted key (normalised to ``_``) -> the RunConfig field."""
    from ptrun.config import cli_fields

    names = {}
    for f in cli_fields():
        names[f.name] = f.name
        for flag in f.metadata.get("flags", ()):
            if flag.startswith("--"):
                names[flag[2:].replace("-", "_")] = f.name
    return names


def _convert(f, param, value, where):
    """``value`` for field ``f`` checked by its click type; ``where(problem)`` makes the error."""
    spec = f.metadata.get("type")
    kind = spec[0] if isinstance(spec, tuple) else spec
    shown = json.dumps(value) if isinstance(value, (str, bool)) or value is None else repr(value)
    if value is None:
        if f.default is None:
            return None
        raise where(f"must have a value (it cannot be null); the default is {f.default!r}.")
    if kind in ("flag", "switch"):
        if not isinstance(value, bool):
            raise where(f"expected true or false, got {shown}.")
        return value
    if f.metadata.get("multiple"):
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            raise where(f"expected a list of paths, got {shown}.")
        return tuple(_click(param, v, where) for v in items)
    if kind == "seeds":
        return _click(param, value, where)
    if kind in (int, "int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise where(f"expected a whole number, got {shown}.")
    elif kind in (float, "float"):
        if isinstance(value, str):
            try:  # YAML 1.1 reads 5e-5 (no dot) as text; it is the number the user meant
                value = float(value)
            except ValueError:
                raise where(f"expected a number, got {shown}.") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise where(f"expected a number, got {shown}.")
    elif not isinstance(value, str):
        raise where(f"expected text, got {shown}" + (" (quote it)." if not isinstance(value, (list, dict)) else "."))
    return _click(param, value, where)


def _click(param, value, where):
    try:
        return param.type.convert(value, param, None) if param.type is not None else value
    except click.BadParameter as exc:
        raise where(exc.message.rstrip(".") + ".") from None


def check_mapping(task, mapping, source: str) -> dict:
    """``{field: value}`` from ``mapping``, every key and value checked (see :func:`from_mapping`)."""
    from ptrun.cli.options import click_option
    from ptrun.config import cli_fields

    if not isinstance(mapping, dict):
        raise _error(source, None, None, f"expected a mapping of options, got {type(mapping).__name__}.")
    lines = getattr(mapping, "lines", {})
    by_name = {f.name: f for f in cli_fields()}
    spellings = _spellings()
    out: dict = {}
    for key, value in mapping.items():
        line = lines.get(key)
        if not isinstance(key, str):
            raise _error(source, line, repr(key), "option names are text.")
        norm = key.strip().replace("-", "_")
        if norm == "task":
            if value != task.name:
                raise _error(source, line, key, f"this configuration is for task '{value}', not '{task.name}'.",
                             hint=f"Run `ptrun {value} --config {source}`, or remove the task line.")
            continue
        if norm not in spellings:
            close = difflib.get_close_matches(norm, list(spellings), n=1)
            raise _error(source, line, key, "unknown option.",
                         hint=(f"Did you mean '{close[0]}'? " if close else "")
                         + f"The keys are the long options of `ptrun {task.name} --help`, with - or _.")
        name = spellings[norm]
        if name in out:
            raise _error(source, line, key, f"given twice (as another spelling of '{name}').")
        f = by_name[name]

        def where(problem, key=key, line=line):
            return _error(source, line, key, problem)

        out[name] = _convert(f, click_option(f, task), value, where)
    return out


def from_mapping(task, mapping, source: str = "mapping"):
    """A RunConfig for ``task`` (name or Task) from ``mapping``, the defaults filling the rest."""
    from ptrun import registry
    from ptrun.config import RunConfig

    task = registry.get_task(task) if isinstance(task, str) else task
    return RunConfig(task=task.name, **check_mapping(task, mapping, source))


def resolve(task, ctx, options: dict, config_file) -> object:
    """The command's RunConfig: ``config_file``'s values, overridden by the options given on the
    command line (click's ParameterSource tells them apart from defaults)."""
    from click.core import ParameterSource

    from ptrun.config import RunConfig

    values = dict(options)
    if config_file:
        given = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT, ParameterSource.PROMPT)
        for name, value in check_mapping(task, read_file(config_file), str(config_file)).items():
            if ctx.get_parameter_source(name) not in given:
                values[name] = value
    return RunConfig(task=task.name, **values)


def to_yaml(task, cfg) -> str:
    """``cfg`` after the task's defaults, as a YAML config file (``--config`` reads it back)."""
    import yaml

    from ptrun.config import cli_fields
    from ptrun.run import setup

    setup.check_options(cfg)
    setup.apply_defaults(task, cfg)
    if cfg.model is None:
        cfg.model = task.default_model
    data = {"task": task.name}
    for f in cli_fields():
        value = getattr(cfg, f.name)
        data[f.name] = list(value) if isinstance(value, tuple) else value
    header = f"# ptrun {task.name}: resolved options (template null: the task's default for the model kind)\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


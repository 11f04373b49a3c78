"""A sweep's search space (space.yaml): per run option, a range or a list of choices.

    lr: {low: 1e-5, high: 1e-3, log: true}     # float range (log scale)
    lora_r: {low: 4, high: 16, step: 4}         # int range (the option's type decides)
    epochs: {choices: [1, 2]}                   # choices
    template: [sentiment/cloze, sentiment/review]   # a plain list is choices too

Keys are RunConfig fields, spelled as the long options with ``-`` or ``_``. Every problem is a
PtrunError naming ``file:line``, the key and what to write instead.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, fields
from pathlib import Path

from ptrun.errors import PtrunError

#: Options a sweep owns (the trial folders) or that make no sense per trial.
NOT_SEARCHABLE = {"task", "output_dir", "overwrite", "resume"}
SPEC_KEYS = {"low", "high", "log", "step", "choices"}


@dataclass
class Param:
    name: str
    kind: str  # "float", "int" or "categorical"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def suggest(self, trial):
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def to_dict(self) -> dict:
        if self.kind == "categorical":
            return {"choices": list(self.choices)}
        spec = {"low": self.low, "high": self.high}
        if self.log:
            spec["log"] = True
        if self.step is not None:
            spec["step"] = self.step
        return spec


def _field_kind(annotation: str) -> str:
    """"float", "int", "bool", "str" or "tuple" from a RunConfig field's annotation."""
    for kind in ("bool", "float", "int", "tuple", "str"):
        if kind in str(annotation):
            return kind
    return "str"


def _fits(value, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str) or value is None


def _number(value, kind: str):
    """YAML 1.1 reads ``1e-5`` (no dot) as text; for a float option it is the number meant."""
    if kind == "float" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_space(path) -> list[Param]:
    """Read and check ``path``; return its parameters in file order."""
    import yaml
    from ptrun.config import RunConfig

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PtrunError(f"--space {path}: cannot read it ({exc.strerror}).", hint="Pass a YAML file of options to search.") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f"{path}:{line + 1}" if line is not None else str(path)
        raise PtrunError(f"{where}: the search space is not valid YAML ({getattr(exc, 'problem', exc)}).") from None
    if root is None or not isinstance(root, yaml.MappingNode) or not root.value:
        raise PtrunError(f"{path}: the search space must be a mapping of options to ranges or choices, e.g. "
                         "`lr: {low: 1e-5, high: 1e-3, log: true}`.")
    types = {f.name: _field_kind(f.type) for f in fields(RunConfig)}
    params = []
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        raw = str(key_node.value)
        name = raw.replace("-", "_")

        def fail(problem: str, hint: str = "", at: int = line, raw: str = raw) -> PtrunError:
            return PtrunError(f"{path}:{at}: {raw}: {problem}", hint=hint or None)

        if name not in types or name in NOT_SEARCHABLE:
            if name in NOT_SEARCHABLE:
                raise fail("this option cannot be searched (the sweep sets it for each trial).")
            close = difflib.get_close_matches(name, [n for n in types if n not in NOT_SEARCHABLE], n=3)
            raise fail("not an option of a run.", f"Did you mean {', '.join(close)}?" if close else "Use the long options of `ptrun TASK --help`.")
        value = yaml.safe_load(yaml.serialize(value_node))
        kind = types[name]
        if isinstance(value, list):
            value = {"choices": value}
        if not isinstance(value, dict):
            raise fail(f"{json.dumps(value, default=str)} is a single value, not a range or choices.",
                       "Write `{low: A, high: B}` (with `log: true` or `step: S`), `{choices: [...]}` or a list; "
                       "a fixed value goes on the command line.")
        unknown = set(value) - SPEC_KEYS
        if unknown:
            raise fail(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}.", "A range has low, high and optionally log or step; choices have choices.")
        if "choices" in value:
            if set(value) != {"choices"}:
                raise fail("choices cannot be combined with low/high/log/step.")
            choices = value["choices"]
            if not isinstance(choices, list) or not choices:
                raise fail("choices must be a non-empty list.")
            choices = [_number(c, kind) for c in choices]
            bad = [c for c in choices if not _fits(c, kind) or isinstance(c, (list, dict))]
            if bad:
                raise fail(f"choice {json.dumps(bad[0], default=str)} is not a{'n' if kind[0] in 'aeiou' else ''} {kind} (the type of --{raw.replace('_', '-')}).",
                           "Quote values meant as text, e.g. \"yes\".")
            params.append(Param(name, "categorical", choices=tuple(choices)))
            continue
        if kind not in ("int", "float"):
            raise fail(f"a range needs a numeric option; --{raw.replace('_', '-')} takes a {kind}.", "Give choices instead: a list of values.")
        if "low" not in value or "high" not in value:
            raise fail("a range needs both low and high.")
        low, high, step = (_number(value.get(k), kind) for k in ("low", "high", "step"))
        log = value.get("log", False)
        if not (_fits(low, kind) and _fits(high, kind)):
            raise fail(f"low and high must be {kind}s (got {low!r} and {high!r}).",
                       "Write numbers, e.g. `low: 1e-5`.")
        if not low < high:
            raise fail(f"low ({low}) must be less than high ({high}).")
        if not isinstance(log, bool):
            raise fail(f"log must be true or false, not {log!r}.")
        if log and low <= 0:
            raise fail("a log-scale range needs low > 0.")
        if step is not None and (not _fits(step, kind) or step <= 0 or log):
            raise fail("step must be a positive number of the option's type, and cannot be combined with log.")
        params.append(Param(name, kind, float(low) if kind == "float" else int(low),
                            float(high) if kind == "float" else int(high), log, step))
    return params

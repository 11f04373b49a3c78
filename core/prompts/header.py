"""The YAML header of a template: its leading ``{# ... #}`` comment holds the metadata."""

from __future__ import annotations

import re

from ptrun.errors import TemplateError

META_KEYS = {
    "description": str,
    "answer_choices": (dict, list),
    "metrics": list,
    "model_kinds": list,
    "task": str,
    "truncate": str,
    "chat": bool,
    "max_chars": int,
    "max_seconds": (int, float),
}
# The header is a leading comment whose first line is empty: `{#-` then a newline.
_HEADER = re.compile(r"\A\s*\{#-?[ \t]*\n(.*?)-?#\}", re.S)


def parse_header(source: str, path=None) -> dict:
    """The metadata in the template's leading comment, as a dict (empty if there is none)."""
    import yaml

    match = _HEADER.match(source)
    if not match:
        return {}
    body = match.group(1)
    first_line = source[: match.start(1)].count("\n") + 1
    try:
        meta = yaml.safe_load(body)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark else first_line
        raise TemplateError(
            f"the metadata header is not valid YAML ({getattr(exc, 'problem', exc)})",
            path=path,
            line=line,
            hint="Write it as `key: value` lines inside the leading {# ... #} comment.",
        ) from None
    if meta is None or isinstance(meta, str):
        return {}  # an ordinary leading comment, not metadata
    if not isinstance(meta, dict):
        raise TemplateError(
            "the metadata header must be a YAML mapping of key: value lines", path=path, line=first_line
        )
    for key, expected in META_KEYS.items():
        if key in meta and not isinstance(meta[key], expected):
            raise TemplateError(
                f"metadata '{key}' has the wrong type ({type(meta[key]).__name__})",
                path=path,
                line=first_line,
                hint="See `ptrun templates --help` for the header keys.",
            )
    _check_answer_choices(meta.get("answer_choices"), body, first_line, path)
    return meta


def _check_answer_choices(choices, body: str, first_line: int, path) -> None:
    """Answer choices are the words a model reads and writes: YAML must have read them as text
    (unquoted yes/no/on/off are booleans to YAML, 1 and 0.5 numbers)."""
    if isinstance(choices, dict):
        items = [(f"{k}: {v}", v) for k, v in choices.items()]
    elif isinstance(choices, list):
        items = [(repr(v), v) for v in choices]
    else:
        return
    for shown, value in items:
        if isinstance(value, str):
            continue
        lines = body.splitlines()
        start = next((i for i, text in enumerate(lines) if text.lstrip().startswith("answer_choices")), 0)
        raise TemplateError(
            f"answer choice {shown!s} is a {type(value).__name__} to YAML, not text "
            f"(the model would read {str(value)!r})",
            path=path,
            line=first_line + start,
            hint='Quote it in the header, e.g. {positive: "yes", negative: "no"}.',
        )

"""Property-based tests: every built-in reader, and template loading and rendering, either read
their input or raise ptrun's own error naming the file; never another exception.

The budget per target is ``PTRUN_FUZZ_EXAMPLES`` (200 by default; bench/RESULTS.md records one
longer run)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ptrun
from ptrun import registry

EXAMPLES = int(os.environ.get("PTRUN_FUZZ_EXAMPLES", "200"))
settings.register_profile("ptrun", max_examples=EXAMPLES, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ptrun")

WORK = Path(tempfile.mkdtemp(prefix="ptrun-fuzz-"))

# (task, file name, format or None): every built-in reader, through the task that reads it.
READERS = [
    ("sentiment", "d.tsv", None), ("sentiment", "d.csv", None), ("sentiment", "d.jsonl", None),
    ("sentiment", "d.json", None), ("ner", "d.txt", None), ("qa", "d.json", None), ("qa", "d.jsonl", None),
    ("dialogue", "d.txt", None), ("dialogue", "d.jsonl", None),
]


def _read(task: str, name: str, data: bytes, fmt=None):
    path = WORK / f"{task}-{name}"
    path.write_bytes(data)
    try:
        return registry.get_task(task).read(path, fmt)
    except ptrun.PtrunError as exc:
        assert str(path) in str(exc), str(exc)  # the message names the file
        return None


@pytest.mark.parametrize("task, name, fmt", READERS, ids=[f"{t}-{n}" for t, n, _ in READERS])
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes(task, name, fmt, data):
    _read(task, name, data, fmt)


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
CELL = st.one_of(TEXT, st.sampled_from(["", " ", '"', '""', "a\tb", "a,b", "\\", "\r", "0", "1", "positive", "negative"]))


@pytest.mark.parametrize("name, sep", [("d.tsv", "\t"), ("d.csv", ",")])
@given(header=st.lists(st.sampled_from(["text", "label", "sentence", "id", "", "x"]), min_size=1, max_size=4),
       rows=st.lists(st.lists(CELL, max_size=5), max_size=6), crlf=st.booleans(), bom=st.booleans())
def test_delimited_structures(name, sep, header, rows, crlf, bom):
    nl = "\r\n" if crlf else "\n"
    text = nl.join(sep.join(r) for r in [header, *rows]) + nl
    examples = _read("sentiment", name, (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    for ex in examples or []:
        assert isinstance(ex.fields["text"], str) and ex.path and ex.line >= 2


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
FIELDS = st.dictionaries(st.sampled_from(["text", "label", "sentence", "id", "messages", "context", "question",
                                          "answers", "tokens", "tags", "role", "content"]), JSON, max_size=5)


@pytest.mark.parametrize("task", ["sentiment", "qa", "dialogue"])
@given(lines=st.lists(st.one_of(FIELDS, JSON), max_size=5))
def test_jsonl_structures(task, lines):
    examples = _read(task, "d.jsonl", "\n".join(json.dumps(x) for x in lines).encode())
    for ex in examples or []:
        assert ex.path and ex.line >= 1


@given(obj=st.one_of(st.lists(FIELDS, max_size=5), st.dictionaries(st.sampled_from(["examples", "data"]), st.lists(FIELDS, max_size=4)), JSON))
def test_json_list_structures(obj):
    _read("sentiment", "d.json", json.dumps(obj).encode())


ANSWER = st.fixed_dictionaries({"text": JSON, "answer_start": JSON}) | JSON
QA = st.fixed_dictionaries({"id": st.one_of(TEXT, st.integers(), st.none())},
                           optional={"question": JSON, "answers": st.lists(ANSWER, max_size=3) | JSON, "is_impossible": JSON})
PARAGRAPH = st.fixed_dictionaries({}, optional={"context": st.one_of(TEXT, JSON), "qas": st.lists(QA, max_size=3) | JSON})
SQUAD = st.fixed_dictionaries({"data": st.lists(st.fixed_dictionaries({}, optional={"title": JSON, "paragraphs": st.lists(PARAGRAPH, max_size=3) | JSON}), max_size=3)})


@given(obj=st.one_of(SQUAD, JSON))
def test_squad_structures(obj):
    examples = _read("qa", "d.json", json.dumps(obj, indent=1).encode())
    for ex in examples or []:
        assert isinstance(ex.fields["context"], str)


TOKEN = st.one_of(st.sampled_from(["Anna", "-DOCSTART-", "O", "B-PER", "I-PER", "B-", "I-LOC", "x-y", "E-ORG"]), TEXT)
LINE = st.lists(TOKEN, max_size=4).map(" ".join)


@given(lines=st.lists(st.one_of(LINE, st.just("")), max_size=12))
def test_conll_structures(lines):
    examples = _read("ner", "d.txt", "\n".join(lines).encode())
    for ex in examples or []:
        assert len(ex.fields["tokens"]) == len(ex.fields["tags"])


@given(dialogues=st.lists(st.lists(st.one_of(TEXT, st.just(" , "), st.just("")), max_size=4).map(" __eou__ ".join), max_size=5))
def test_dailydialog_structures(dialogues):
    examples = _read("dialogue", "d.txt", "\n".join(d + " __eou__" for d in dialogues).encode())
    for ex in examples or []:
        assert ex.path


# Templates: arbitrary sources (bytes and Jinja-ish text) load, render, or raise a TemplateError
# (or PtrunError) naming the file.
JINJA = st.lists(st.one_of(
    TEXT, st.sampled_from(["{{ text }}", "{{ label_word }}", "{% if text %}", "{% endif %}", "{% for x in text %}",
                           "{% endfor %}", "{{ text | upper }}", "{{ text[0] }}", "{{ 1/0 }}", "{{ text * 3 }}",
                           "{% block prompt %}", "{% endblock %}", "{% block target %}", "{{ x.y.z }}", "{#-\n",
                           "\n-#}", "answer_choices: [yes, no]\n", "description: x\n", "{% include 'nope.j2' %}",
                           "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "{{ '%s' % text }}", "{{ range(10)|list }}",
                           "{% set a = text ~ text %}{{ a }}", "{{ text.__class__ }}", "{{ lipsum() }}", "{{ }}", "{%"])),
    max_size=8).map("".join)
VALUES = st.dictionaries(st.sampled_from(["text", "label", "label_word", "x"]), JSON, max_size=4)


def _template(source: bytes | str, name: str = "t.j2") -> Path:
    path = WORK / name
    path.write_bytes(source if isinstance(source, bytes) else source.encode("utf-8"))
    return path


def _load_and_render(path: Path, values: dict):
    from ptrun.prompts.templates import load_prompt

    try:
        prompt = load_prompt(str(path))
        prompt.variables()
        rendered = prompt.render(values)
    except ptrun.PtrunError as exc:
        assert str(path) in str(exc) or path.name in str(exc) or "nope.j2" in str(exc), str(exc)
        return None
    assert isinstance(rendered.input, str)
    return rendered


@given(source=st.binary(max_size=300), values=VALUES)
def test_template_bytes(source, values):
    _load_and_render(_template(source), values)


@given(source=JINJA, values=VALUES)
def test_template_sources(source, values):
    _load_and_render(_template(source), values)


@given(source=JINJA, values=VALUES)
def test_templates_rendered_for_a_task(source, values):
    """Through the Renderer a run uses: the task's checks, then every example rendered."""
    from ptrun.prompts.render import Renderer, check_prompt_for_task
    from ptrun.prompts.templates import load_prompt

    task = registry.get_task("sentiment")
    path = _template(source, "task.j2")
    example = ptrun.Example("e1", {"text": values.get("text", "fine"), "label": "positive"}, str(WORK / "d.tsv"), 2)
    try:
        prompt = load_prompt(str(path))
        check_prompt_for_task(prompt, task)
        label_map = task.label_map(["negative", "positive"], prompt)
        Renderer(task, prompt, label_map).render_all([example])
    except ptrun.PtrunError as exc:
        assert str(path) in str(exc) or "d.tsv:2" in str(exc) or "nope.j2" in str(exc), str(exc)

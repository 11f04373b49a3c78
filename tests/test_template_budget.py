"""A template has a budget: hostile templates are refused quickly, with file, line and limit."""

from __future__ import annotations

import time

import pytest

from conftest import write
from ptrun import TemplateError

PAYLOADS = {
    "format width": ("{{ '{:>999999999}'.format(1) }}", "a format width"),
    "nested format width": ("{{ '{:>{}}'.format(1, 999999999) }}", "a format width"),
    "string repetition": ("{{ 'a' * 10**9 }}", "a repeated value"),
    "list repetition": ("{{ (['a' * 999999] * 999999)|join }}", "a repeated value"),
    "integer power": ("{{ 2 ** 10000000 }}", "a power of"),
    "nested loops": ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", "iterations"),
    "one huge range": ("{% for i in range(10**9) %}{% endfor %}", "range() of"),
    "center filter": ("{{ 'a'|center(999999999) }}", "center filter"),
    "indent filter": ("{{ 'a\nb'|indent(999999999) }}", "indent filter"),
    "format filter": ("{{ '%999999999s'|format('x') }}", "%-format width"),
    "percent operator": ("{{ '%999999999d' % 1 }}", "%-format width"),
    "ljust method": ("{{ 'ab'.ljust(999999999) }}", "ljust() width"),
    "replace filter": ("{{ ('a' * 999999)|replace('a', 'a' * 999999) }}", "a replaced value"),
    "replace method": ("{{ ('a' * 999999).replace('a', 'a' * 999999) }}", "a replaced value"),
    "join method": ("{% set s = 'a' * 999999 %}{{ ''.join([s, s]) }}", "a joined value"),
    "plus doubling": ("{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "a joined value"),
    "tilde doubling": ("{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "a joined value"),
    "output size": ("{% for i in range(900000) %}{{ 'a' * 999 }}{% endfor %}", "passed 1,000,000 characters"),
    "time": ("{#-\nmax_seconds: 1\n-#}\n{% set s = 'a' * 900000 %}{% for c in s %}{% for d in s %}{% endfor %}{% endfor %}", "time limit"),
}


def _render(path):
    from ptrun.prompts.templates import load_prompt

    return load_prompt(str(path)).render({"text": "fine", "label": "positive", "label_word": "great",
                                         "labels": [], "label_words": [], "task": "sentiment", "demos": []})


@pytest.mark.parametrize("name", PAYLOADS)
def test_hostile_template_is_refused(tmp_path, name):
    source, message = PAYLOADS[name]
    path = write(tmp_path / "sentiment" / "hostile.j2", source)
    start = time.monotonic()
    with pytest.raises(TemplateError) as info:
        _render(path)
    assert time.monotonic() - start < 5
    assert info.value.path == str(path)
    assert "budget" in info.value.message and message in info.value.message
    if name not in ("output size",):  # the output limit is checked outside the template's frames
        assert info.value.line is not None


def test_recursion_is_refused(tmp_path):
    path = write(tmp_path / "sentiment" / "rec.j2", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
    with pytest.raises(TemplateError, match="recursed deeper than the limit") as info:
        _render(path)
    assert info.value.path == str(path)


def test_the_header_raises_a_limit(tmp_path):
    big = write(tmp_path / "sentiment" / "big.j2", "{#-\nmax_chars: 3000000\n-#}\n{{ 'a' * 2000000 }}")
    assert len(_render(big).input) == 2000000
    small = write(tmp_path / "sentiment" / "small.j2", "{{ 'a' * 2000000 }}")
    with pytest.raises(TemplateError, match="1,000,000"):
        _render(small)


def test_ordinary_templates_render_as_before(tmp_path):
    path = write(tmp_path / "sentiment" / "ok.j2",
                 "{% for i in range(3) %}{{ '{:>4}'.format(i) }}{{ 'ab' * 2 }}{{ '%3d' % i }}{% endfor %}"
                 "{{ ['x', 'y']|join(',') }}{{ 'a'|center(5) }}{{ 2 ** 10 }}{{ 'a' ~ 'b' }}{{ 'x'.replace('x', 'yy') }}")
    assert _render(path).input == "   0abab  0   1abab  1   2abab  2x,y  a  1024abyy"


def test_check_reports_every_file_under_the_same_budget(cli, tmp_path):
    folder = tmp_path / "tpl" / "sentiment"
    for i, (source, _message) in enumerate(list(PAYLOADS.values())[:4]):
        write(folder / f"h{i}.j2", source)
    write(folder / "unknown_filter.j2", "{{ text|nosuchfilter }}")
    write(folder / "fine.j2", "Review: {{ text }}")
    result = cli("check", tmp_path / "tpl")
    assert result.exit_code == 1
    for i in range(4):
        assert f"h{i}.j2:1: error: the template went over its budget" in result.output
    assert "unknown_filter.j2:1: error: template syntax error: No filter named 'nosuchfilter'." in result.output
    assert "Run `ptrun check`" not in result.output  # no advice to run what is running
    assert "checked 6 template(s): 5 error(s)" in result.output


@pytest.mark.parametrize("header, shown", [
    ("answer_choices: {positive: yes, negative: no}", "positive: True"),
    ("answer_choices: [0, 1]", "0"),
    ("answer_choices: {positive: on, negative: 0.5}", "positive: True"),
])
def test_answer_choices_must_be_text(tmp_path, header, shown):
    from ptrun.prompts.templates import load_prompt

    path = write(tmp_path / "sentiment" / "yn.j2", f"{{#-\ndescription: x\n{header}\n-#}}\n{{{{ text }}}}")
    with pytest.raises(TemplateError) as info:
        load_prompt(str(path))
    assert info.value.line == 3 and shown in info.value.message and "not text" in info.value.message
    assert "Quote it" in info.value.hint
    quoted = write(tmp_path / "sentiment" / "q.j2", '{#-\nanswer_choices: {positive: "yes", negative: "no"}\n-#}\n{{ text }}')
    assert load_prompt(str(quoted)).answer_choices == {"positive": "yes", "negative": "no"}


def test_an_empty_prompt_is_an_error_at_run_time_and_in_check(cli, tiny_encoder, tmp_path):
    path = write(tmp_path / "tpl" / "sentiment" / "empty.j2", "{% block prompt %}{% if false %}{{ text }}{% endif %}{% endblock %}")
    result = cli("sentiment", "--model", tiny_encoder, "--eval-only", "--template", path, "--output-dir", tmp_path / "run")
    assert result.exit_code == 1 and "the prompt renders empty for example" in result.output
    assert not (tmp_path / "run").exists()
    checked = cli("check", tmp_path / "tpl")
    assert checked.exit_code == 1 and "empty.j2: error: the prompt renders empty" in checked.output

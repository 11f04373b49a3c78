"""``ptrun check`` and ptrun.lint.check_file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptrun.prompts.lint import check_file, template_files
from conftest import write



def errors(problems):
    return [p for p in problems if p.severity == "error"]


def test_shipped_templates_pass(cli):
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output
    # every shipped template (partials too) was checked
    count = int(result.output.split("checked ")[1].split(" ")[0])
    shipped = list((Path(__file__).resolve().parents[1] / "templates").rglob("*.j2"))
    assert count >= len(shipped) > 0


def test_good_template_has_no_problems(tmp_path):
    path = write(tmp_path / "sentiment" / "ok.j2", "{#-\ndescription: fine\n-#}\nReview: {{ text }}\n")
    assert check_file(path) == []


def test_syntax_error(cli, tmp_path):
    path = write(tmp_path / "sentiment" / "syn.j2", "{#-\ndescription: x\n-#}\n{{ text }\n")
    result = cli("check", path)
    assert result.exit_code == 1
    assert f"{path}:4: error: syntax error" in result.output
    assert "1 error(s)" in result.output
    assert "Traceback" not in result.output


def test_undefined_variable_with_line(cli, tmp_path):
    path = write(tmp_path / "sentiment" / "undef.j2", "a\n\n{{ txet }}\n")
    result = cli("check", path)
    assert result.exit_code == 1
    assert f"{path}:3: error: undefined variable 'txet'" in result.output
    assert "provides:" in result.output and "text" in result.output


def test_core_variables_are_allowed(tmp_path):
    path = write(tmp_path / "sentiment" / "core.j2", "{{ task }}: {{ labels | join('/') }} {{ label_words | join('/') }} {{ text }}")
    assert check_file(path) == []


@pytest.mark.parametrize(
    "body, attr, line",
    [
        ("{{ text.__class__ }}", "__class__", 1),
        ("x\n{{ text['__globals__'] }}", "__globals__", 2),
        ("{% set f = text._private %}{{ f }}", "_private", 1),
    ],
)
def test_sandbox_violation(cli, tmp_path, body, attr, line):
    path = write(tmp_path / "sentiment" / "sb.j2", body + "\n")
    problems = check_file(path)
    assert [(p.line, p.severity) for p in problems] == [(line, "error")]
    assert "sandbox violation" in problems[0].message and attr in problems[0].message
    result = cli("check", path)
    assert result.exit_code == 1
    assert f"{path}:{line}: error: sandbox violation" in result.output


def test_ner_template_without_sentence(cli, tmp_path):
    path = write(tmp_path / "ner" / "nosent.j2", "Entities:\n{{ tokens | join(' ') }}\n")
    result = cli("check", path)
    assert result.exit_code == 1
    assert "error:" in result.output and "{{ sentence }}" in result.output
    assert "found 0 times" in result.output


def test_ner_template_with_sentence_twice(tmp_path):
    path = write(tmp_path / "ner" / "twice.j2", "{{ sentence }} / {{ sentence }}\n")
    (problem,) = errors(check_file(path))
    assert "found 2 times" in problem.message


def test_include_of_missing_template(cli, tmp_path):
    path = write(tmp_path / "sentiment" / "inc.j2", 'a\n{% include "sentiment/missing.j2" %}\n{{ text }}\n')
    result = cli("check", path)
    assert result.exit_code == 1
    assert f"{path}:2: error: template 'sentiment/missing.j2' not found" in result.output


def test_include_ignore_missing_is_fine(tmp_path):
    path = write(tmp_path / "sentiment" / "inc.j2", '{% include "sentiment/missing.j2" ignore missing %}{{ text }}\n')
    assert check_file(path) == []


def test_unknown_metadata_key_is_a_warning(cli, tmp_path):
    path = write(tmp_path / "sentiment" / "meta.j2", "{#-\ndescription: d\ncolour: red\n-#}\n{{ text }}\n")
    result = cli("check", path)
    assert result.exit_code == 0, result.output
    assert f"{path}:1: warning: unknown metadata key 'colour'" in result.output
    assert "0 error(s), 1 warning(s)" in result.output


def test_invalid_header_is_an_error_with_line(tmp_path):
    path = write(tmp_path / "sentiment" / "hdr.j2", "{#-\ndescription: ok\nbad: line: here\n-#}\n{{ text }}\n")
    (problem,) = errors(check_file(path))
    assert problem.line == 3 and "not valid YAML" in problem.message


def test_unknown_task_folder_is_a_warning(tmp_path):
    path = write(tmp_path / "nosuchtask" / "x.j2", "{{ anything }}\n")
    problems = check_file(path)
    assert [p.severity for p in problems] == ["warning"]
    assert "no installed task 'nosuchtask'" in problems[0].message


def test_task_from_header_overrides_folder(tmp_path):
    path = write(tmp_path / "elsewhere" / "x.j2", "{#-\ntask: ner\n-#}\nNames: {{ tokens | join(' ') }}\n")
    (problem,) = errors(check_file(path))
    assert "{{ sentence }}" in problem.message


def test_partials_skip_variable_checks(tmp_path):
    path = write(tmp_path / "sentiment" / "_part.j2", "{{ whatever }}\n")
    assert check_file(path) == []


def test_trial_render_catches_runtime_errors(tmp_path):
    # `text` is a string; `.foo.bar` can only fail at render time, on the demo data.
    path = write(tmp_path / "sentiment" / "rt.j2", "{{ text.foo.bar }}\n")
    (problem,) = errors(check_file(path))
    assert "has no attribute 'foo'" in problem.message
    assert "while rendering example" in problem.message


def test_trial_render_error_has_template_line(tmp_path):
    path = write(tmp_path / "sentiment" / "rt.j2", "x\n{{ text.foo.bar }}\n")
    (problem,) = errors(check_file(path))
    assert problem.line == 2


def test_answer_choices_list_length_checked_against_task_labels(tmp_path, monkeypatch):
    from ptrun import registry

    task = registry.get_task("sentiment")
    monkeypatch.setattr(task, "labels", ["negative", "positive"])
    path = write(tmp_path / "sentiment" / "lst.j2", "{#-\nanswer_choices: [bad, ok, good]\n-#}\n{{ text }}\n")
    (problem,) = errors(check_file(path))
    assert "3 answer_choices for 2 labels" in problem.message


def test_answer_choices_keys_checked_against_fixed_task_labels(tmp_path, monkeypatch):
    from ptrun import registry

    task = registry.get_task("sentiment")
    monkeypatch.setattr(task, "labels", ["negative", "positive"])
    path = write(tmp_path / "sentiment" / "bad.j2", "{#-\nanswer_choices: {good: great, bad: awful}\n-#}\n{{ text }}\n")
    (problem,) = errors(check_file(path))
    assert problem.line == 1
    assert "do not match the labels" in problem.message


def test_sentiment_task_has_no_fixed_labels():
    # Its labels come from the data (demo data: negative/positive), so lint must look there.
    from ptrun import registry

    assert registry.get_task("sentiment").labels is None


def test_answer_choices_keys_not_matching_demo_labels(cli, tmp_path):
    path = write(
        tmp_path / "sentiment" / "bad.j2",
        "{#-\ndescription: wrong keys\nanswer_choices: {good: great, bad: awful}\n-#}\n{{ text }} It was {{ label_word }}\n",
    )
    result = cli("check", path)
    assert result.exit_code == 1
    assert "answer_choices" in result.output


def test_undefined_variable_in_parent_names_the_parent(tmp_path):
    base = write(tmp_path / "sentiment" / "_base.j2", "{#- base -#}\n\n{% block prompt %}{{ nope }}{% endblock %}\n")
    child = write(tmp_path / "sentiment" / "child.j2", '{% extends "sentiment/_base.j2" %}\n')
    (problem,) = errors(check_file(child))
    assert "nope" in problem.message
    assert Path(problem.path).resolve() == base.resolve() and problem.line == 3


def test_template_files_expands_directories(tmp_path):
    a = write(tmp_path / "sentiment" / "a.j2", "x")
    b = write(tmp_path / "ner" / "b.j2", "x")
    write(tmp_path / "notes.txt", "not a template")
    assert sorted(template_files([tmp_path])) == sorted([a, b])


def test_check_missing_path(cli, tmp_path):
    result = cli("check", tmp_path / "absent.j2")
    assert result.exit_code == 1
    assert "no such file or directory" in result.output
    assert "Traceback" not in result.output


def test_check_directory_counts_all_problems(cli, tmp_path):
    write(tmp_path / "sentiment" / "ok.j2", "{{ text }}\n")
    write(tmp_path / "sentiment" / "bad1.j2", "{{ nope }}\n")
    write(tmp_path / "sentiment" / "bad2.j2", "{{ text }\n")
    result = cli("check", tmp_path)
    assert result.exit_code == 1
    assert "checked 3 template(s): 2 error(s), 0 warning(s)" in result.output


def test_check_with_template_dir_resolves_includes(cli, tmp_path):
    lib = tmp_path / "lib"
    write(lib / "sentiment" / "_greet.j2", "Hello")
    path = write(tmp_path / "work" / "sentiment" / "x.j2", '{% include "sentiment/_greet.j2" %} {{ text }}\n')
    assert cli("check", path).exit_code == 1
    result = cli("check", "--template-dir", lib, path)
    assert result.exit_code == 0, result.output

"""Prompt templates (ptrun.prompts): loading, headers, blocks, sandbox, variables, bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

import ptrun
from ptrun.plugins import builtin_template_dir
from ptrun.prompts import templates as prompts
from ptrun.prompts.templates import list_templates, load_prompt, parse_header
from conftest import write

BUILTIN = builtin_template_dir()



# --------------------------------------------------------------------------- loading


def test_load_by_name_reads_header_and_renders_blocks():
    p = load_prompt("sentiment/cloze")
    assert p.name == "sentiment/cloze"
    assert Path(p.path).name == "cloze.j2"
    assert p.answer_choices == {"negative": "terrible", "positive": "great"}
    assert p.model_kinds == ["encoder", "causal-lm"]
    assert p.description.startswith("LM-BFF style cloze")
    r = p.render({"text": "Good food.", "label_word": "great"})
    assert r.input == "Good food. It was"
    assert r.target == " great."


def test_load_by_name_with_suffix_is_the_same_template():
    assert load_prompt("sentiment/cloze.j2").name == "sentiment/cloze"
    assert load_prompt("sentiment/cloze.j2").sha256 == load_prompt("sentiment/cloze").sha256


def test_render_without_target():
    p = load_prompt("sentiment/cloze")
    r = p.render({"text": "Bad.", "label_word": "terrible"}, target=False)
    assert r.input == "Bad. It was"
    assert r.target is None


def test_load_by_path(tmp_path):
    path = write(tmp_path / "mine.j2", "{#-\ndescription: mine\n-#}\nSays: {{ text }}")
    p = load_prompt(str(path))
    assert p.description == "mine"
    assert p.render({"text": "hi"}).input == "Says: hi"


def test_template_without_blocks_is_all_prompt(tmp_path):
    path = write(tmp_path / "plain.j2", "Text: {{ text }} / {{ label_word }}")
    r = load_prompt(str(path)).render({"text": "a", "label_word": "b"})
    assert r.input == "Text: a / b"
    assert r.target is None


def test_path_template_includes_a_sibling(tmp_path):
    write(tmp_path / "_part.j2", "[{{ text | upper }}]")
    main = write(tmp_path / "main.j2", 'Before {% include "_part.j2" %} after')
    p = load_prompt(str(main))
    assert p.render({"text": "abc"}).input == "Before [ABC] after"
    assert set(p.dependencies) == {"_part.j2"}


def test_path_template_extends_the_builtin_layout(tmp_path):
    path = write(
        tmp_path / "child.j2",
        '{% extends "sentiment/_layout.j2" %}\n{% block prompt %}Q: {{ quoted(text) }}{% endblock %}\n',
    )
    p = load_prompt(str(path))
    r = p.render({"text": "  nice  ", "label_word": "positive"})
    assert r.input == 'Q: "nice"'
    assert r.target == "positive"  # the layout's own target block
    assert "sentiment/_layout.j2" in p.dependencies
    assert "sentiment/_macros.j2" in p.dependencies


def test_missing_path_is_a_template_error(tmp_path):
    with pytest.raises(ptrun.TemplateError, match="no such template file"):
        load_prompt(str(tmp_path / "absent.j2"))


def test_unknown_template_name_lists_known_ones():
    with pytest.raises(ptrun.PtrunError) as info:
        load_prompt("sentiment/nosuch")
    assert not isinstance(info.value, ptrun.TemplateError)
    message = str(info.value)
    assert "Unknown template 'sentiment/nosuch'" in message
    assert "sentiment/cloze" in message and "ner/default" in message
    assert "sentiment/_layout" not in message  # partials are not offered


def test_syntax_error_on_load_names_file_and_line(tmp_path):
    path = write(tmp_path / "broken.j2", "ok\nok\n{{ text }\n")
    with pytest.raises(ptrun.TemplateError) as info:
        load_prompt(str(path))
    assert info.value.line == 3
    assert "syntax error" in info.value.message
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- header


def test_header_keys():
    meta = parse_header(
        "{#-\ndescription: d\nanswer_choices: {a: x, b: y}\nmodel_kinds: [encoder]\nmetrics: [accuracy]\n-#}\nbody"
    )
    assert meta == {
        "description": "d",
        "answer_choices": {"a": "x", "b": "y"},
        "model_kinds": ["encoder"],
        "metrics": ["accuracy"],
    }


@pytest.mark.parametrize(
    "source",
    [
        "{# just a comment #}\n{{ text }}",
        "{#- Shared layout: a note. -#}\n{{ text }}",
        "{#-\nsome prose without keys\n-#}\n{{ text }}",
        "{{ text }}\n{#-\ndescription: not leading\n-#}",
    ],
)
def test_non_header_comments(source):
    assert parse_header(source) == {}


def test_one_line_comment_is_not_header_even_with_colon(tmp_path):
    # A one-line comment that happens to look like `key: value` is still just a comment.
    path = write(tmp_path / "c.j2", "{#- description: not metadata -#}\n{{ text }}")
    assert load_prompt(str(path)).meta == {}


def test_invalid_yaml_header_reports_its_line():
    with pytest.raises(ptrun.TemplateError) as info:
        parse_header("{#-\ndescription: ok\nbad: line: here\n-#}\nx", "f.j2")
    assert info.value.line == 3
    assert "not valid YAML" in info.value.message
    assert str(info.value).startswith("f.j2:3: ")


def test_header_with_wrong_type():
    with pytest.raises(ptrun.TemplateError, match="answer_choices"):
        parse_header("{#-\nanswer_choices: 3\n-#}\nx", "f.j2")


# --------------------------------------------------------------------------- strictness, sandbox


def test_undefined_variable_raises_template_error_naming_file(tmp_path):
    path = write(tmp_path / "u.j2", "line one\n{{ text }}\n{{ nope }}\n")
    with pytest.raises(ptrun.TemplateError) as info:
        load_prompt(str(path)).render({"text": "x"})
    err = info.value
    assert "'nope' is undefined" in err.message
    assert "variables available: text" in err.message
    assert err.path is not None and Path(err.path).name == "u.j2"
    assert err.line is not None


def test_undefined_variable_reports_template_line(tmp_path):
    path = write(tmp_path / "u.j2", "line one\n{{ text }}\n{{ nope }}\n")
    with pytest.raises(ptrun.TemplateError) as info:
        load_prompt(str(path)).render({"text": "x"})
    assert info.value.line == 3


def test_sandbox_blocks_dunder_access(tmp_path):
    path = write(tmp_path / "s.j2", "a\n{{ ''.__class__.__mro__ }}\n")
    with pytest.raises(ptrun.TemplateError) as info:
        load_prompt(str(path)).render({})
    assert "sandbox" in info.value.message
    assert "__class__" in info.value.message


def test_sandbox_is_immutable(tmp_path):
    path = write(tmp_path / "m.j2", "{{ items.append(4) }}{{ items }}")
    items = [1, 2, 3]
    with pytest.raises(ptrun.TemplateError, match="sandbox"):
        load_prompt(str(path)).render({"items": items})
    assert items == [1, 2, 3]


def test_runtime_type_error_is_template_error(tmp_path):
    path = write(tmp_path / "z.j2", "{{ 1 // n }}")
    with pytest.raises(ptrun.TemplateError, match="ZeroDivisionError"):
        load_prompt(str(path)).render({"n": 0})


# --------------------------------------------------------------------------- variables, sha, bundle


def test_variables_with_lines():
    assert load_prompt("sentiment/cloze").variables() == {"text": 8, "label_word": 9}


def test_variables_ignore_names_imported_by_parent(tmp_path):
    path = write(
        tmp_path / "child.j2",
        '{% extends "sentiment/_layout.j2" %}\n\n{% block prompt %}{{ quoted(text) }} / {{ extra }}{% endblock %}\n',
    )
    found = load_prompt(str(path)).variables()
    assert "quoted" not in found  # imported by the parent layout
    assert found["text"] == 3
    assert found["extra"] == 3
    assert "label_word" in found  # the parent's target block still reads it


def test_variables_exclude_set_and_loop_names(tmp_path):
    path = write(tmp_path / "v.j2", "{% set greeting = 'hi' %}\n{% for t in tokens %}{{ greeting }} {{ t }}{% endfor %}\n")
    assert load_prompt(str(path)).variables() == {"tokens": 2}


def test_sha256_changes_when_included_template_changes(tmp_path):
    part = write(tmp_path / "_part.j2", "one")
    main = write(tmp_path / "main.j2", '{% include "_part.j2" %} {{ text }}')
    before = load_prompt(str(main)).sha256
    assert load_prompt(str(main)).sha256 == before  # stable
    part.write_text("two", encoding="utf-8")
    after = load_prompt(str(main))
    assert after.sha256 != before
    assert after.render({"text": "x"}).input == "two x"


def test_sha256_differs_between_templates():
    assert load_prompt("sentiment/cloze").sha256 != load_prompt("sentiment/review").sha256


def test_save_bundle_copies_template_and_dependencies(tmp_path):
    p = load_prompt("sentiment/question")
    out = tmp_path / "bundle"
    name = p.save_bundle(out)
    assert name == "sentiment/question"
    for rel in ("sentiment/question.j2", "sentiment/_layout.j2", "sentiment/_macros.j2"):
        assert (out / rel).read_text(encoding="utf-8") == (BUILTIN / rel).read_text(encoding="utf-8")
    again = load_prompt(name, [out])
    assert Path(again.path).resolve() == (out / "sentiment/question.j2").resolve()
    assert again.sha256 == p.sha256


def test_save_bundle_of_path_template_round_trips(tmp_path):
    src = tmp_path / "src"
    write(src / "_part.j2", "<{{ text }}>")
    main = write(src / "mine.j2", '{% include "_part.j2" %}!')
    p = load_prompt(str(main))
    out = tmp_path / "bundle"
    name = p.save_bundle(out)
    assert name == "custom/mine"
    assert (out / "custom/mine.j2").is_file() and (out / "_part.j2").is_file()
    # The bundle works without the original files.
    (src / "_part.j2").unlink()
    main.unlink()
    again = load_prompt(name, [out])
    assert again.render({"text": "x"}).input == "<x>!"
    assert again.sha256 == p.sha256


# --------------------------------------------------------------------------- search path


def test_template_dir_shadows_builtin(tmp_path):
    mine = write(tmp_path / "sentiment" / "cloze.j2", "{#-\ndescription: my cloze\n-#}\nMINE {{ text }}")
    p = load_prompt("sentiment/cloze", [tmp_path])
    assert Path(p.path).resolve() == mine.resolve()
    assert p.render({"text": "x"}).input == "MINE x"
    listed = {t.name: t for t in list_templates([tmp_path])}
    info = listed["sentiment/cloze"]
    assert info.origin == "--template-dir"
    assert info.description == "my cloze"
    assert [q.resolve() for q in info.shadowed] == [(BUILTIN / "sentiment/cloze.j2").resolve()]
    assert listed["sentiment/review"].shadowed == []


def test_env_template_path_shadows_builtin(tmp_path, monkeypatch):
    write(tmp_path / "sentiment" / "review.j2", "ENV {{ text }}")
    write(tmp_path / "sentiment" / "fresh.j2", "{#-\ndescription: only here\n-#}\nFRESH {{ text }}")
    monkeypatch.setenv(prompts.TEMPLATE_PATH_ENV, str(tmp_path))
    assert load_prompt("sentiment/review").render({"text": "x"}).input == "ENV x"
    listed = {t.name: t for t in list_templates(task="sentiment")}
    assert listed["sentiment/review"].origin == prompts.TEMPLATE_PATH_ENV
    assert len(listed["sentiment/review"].shadowed) == 1
    assert listed["sentiment/fresh"].description == "only here"
    assert not any(name.startswith("ner/") for name in listed)


def test_template_dir_comes_before_env(tmp_path, monkeypatch):
    write(tmp_path / "a" / "sentiment" / "x.j2", "A")
    write(tmp_path / "b" / "sentiment" / "x.j2", "B")
    monkeypatch.setenv(prompts.TEMPLATE_PATH_ENV, str(tmp_path / "b"))
    assert load_prompt("sentiment/x", [tmp_path / "a"]).render({}).input == "A"
    assert load_prompt("sentiment/x").render({}).input == "B"


def test_list_templates_reports_broken_header(tmp_path):
    write(tmp_path / "sentiment" / "bad.j2", "{#-\nkey: [unclosed\n-#}\n{{ text }}")
    listed = {t.name: t for t in list_templates([tmp_path])}
    assert listed["sentiment/bad"].description.startswith("(broken header")


def test_loader_refuses_parent_directory_escape(tmp_path):
    write(tmp_path / "secret.j2", "SECRET")
    write(tmp_path / "d" / "sentiment" / "x.j2", "ok")
    with pytest.raises(ptrun.PtrunError, match="Unknown template"):
        load_prompt("sentiment/../../secret", [tmp_path / "d"])


# --------------------------------------------------------------------------- CLI


def test_cli_templates_lists_builtin(cli):
    result = cli("templates", "sentiment")
    assert result.exit_code == 0
    assert "sentiment/cloze" in result.output and "ner/default" not in result.output


def test_cli_templates_unknown_task(cli):
    result = cli("templates", "nosuch")
    assert result.exit_code == 1
    assert "Unknown task 'nosuch'" in result.output
    assert "Traceback" not in result.output


def test_cli_render_example(cli):
    result = cli("render", "sentiment", "--example", '{"text": "fine"}')
    assert result.exit_code == 0, result.output
    assert "Review: fine" in result.output
    assert "target:" not in result.output  # no label: no target


def test_cli_render_example_with_label_shows_target(cli):
    result = cli("render", "sentiment", "-t", "sentiment/cloze", "--example", '{"text": "fine", "label": "positive"}')
    assert result.exit_code == 0, result.output
    assert "fine It was" in result.output
    assert "great." in result.output


def test_cli_render_demo_data(cli):
    result = cli("render", "ner", "-n", "2")
    assert result.exit_code == 0, result.output
    assert result.output.count("--- example") == 2
    assert "Named entities:" in result.output
    from ptrun.plugins.ner import SENTENCE_MARK

    assert SENTENCE_MARK not in result.output  # the sentence is displayed as its tokens


def test_cli_render_unknown_template(cli):
    result = cli("render", "sentiment", "--template", "nosuch")
    assert result.exit_code == 1
    assert "Unknown template" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("example", ["not json", "[1, 2]"])
def test_cli_render_bad_example(cli, example):
    result = cli("render", "sentiment", "--example", example)
    assert result.exit_code == 1
    assert "--example" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_cli_render_undefined_variable_in_template(cli, tmp_path):
    path = write(tmp_path / "typo.j2", "{{ txet }}")
    result = cli("render", "sentiment", "--template", path, "--example", '{"text": "x"}')
    assert result.exit_code == 1
    assert "undefined variable" in result.output and "txet" in result.output
    assert f"{path}:1:" in result.output
    assert "Traceback" not in result.output


def test_path_template_extends_task_qualified_sibling(tmp_path, cli):
    write(tmp_path / "sentiment" / "_base.j2", "{% block prompt %}[{{ text }}]{% endblock %}\n")
    child = write(tmp_path / "sentiment" / "child.j2", '{% extends "sentiment/_base.j2" %}\n')
    assert cli("check", child).exit_code == 0
    assert load_prompt(str(child)).render({"text": "a"}).input == "[a]"

"""Plugins: loading, the registry, `ptrun plugins` / `ptrun tasks`, and every hook in use.

The one combining rule (:mod:`ptrun.hookspecs`): the plugin registered later wins, and
``tryfirst``/``trylast`` make a plugin count as registered last/first. Tests named
``test_hook_ptrun_<hook>...`` exercise one hook each (tests/test_hooks_documented.py requires
one per hookspec). In-process plugins registered through the ``register`` fixture come after
every installed one (conftest pins those to ptrun's own entry points).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import PINNED_PLUGINS, load_plugins_env, run_ptrun, write

import ptrun
from ptrun import Example, LabelMap, ModelSpec, Record, models, read_records, registry
from ptrun.prompts.templates import list_templates, load_prompt
from ptrun.run import metrics

BUILTIN_TASKS = {"dialogue", "ner", "qa", "sentiment"}
#: ptrun's own entry points, in the order they are registered (after the default plugin).
BUILTIN_ENTRY_POINTS = ["builtin", "dialogue", "ner", "qa", "sentiment"]
DEFAULT_PLUGIN = "ptrun.data.readers"


@pytest.fixture
def register():
    """Register in-test plugins; unregister them (and undo the errors and override notes they
    caused on other plugins) afterwards."""
    registry.load_plugins()
    saved = {name: (info.error, list(info.overrides)) for name, info in registry.PLUGINS.items()}
    added = []

    def _register(obj, name):
        info = registry.register(obj, name)
        added.append((obj, name))
        return info

    yield _register
    for obj, name in reversed(added):
        if registry.pm.is_registered(obj):
            registry.pm.unregister(obj)
        registry.PLUGINS.pop(name, None)
    for name, (error, overrides) in saved.items():
        if name in registry.PLUGINS:
            registry.PLUGINS[name].error = error
            registry.PLUGINS[name].overrides = overrides
    registry.clear()


class TinyTask(ptrun.Task):
    name = "tiny"
    description = "A tiny task for tests"
    variables = {"text": "the text", "shout": "added by a render-context plugin"}
    default_template = None

    def from_record(self, record, labeled=True):
        return Example(f"tiny-{record.line}", {"text": str(record.fields.get("text", ""))}, record.path, record.line, labeled=False)


def tiny_task(description="A tiny task for tests", name="tiny"):
    task = TinyTask()
    task.name, task.description = name, description
    return task


class TinyPlugin:
    def __init__(self, template_dir=None):
        self.template_dir = template_dir

    @ptrun.hookimpl
    def ptrun_tasks(self):
        return [TinyTask()]

    @ptrun.hookimpl
    def ptrun_template_dirs(self):
        return [self.template_dir] if self.template_dir else []

    @ptrun.hookimpl
    def ptrun_render_context(self, task, example):
        if task.name != "tiny":
            return None
        return {"shout": example.fields["text"].upper()}


def plugin_blocks(output: str) -> dict[str, list[str]]:
    """`ptrun plugins` text output: plugin name -> its heading line and indented lines."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line and not line.startswith(" "):
            current = re.match(r"[^ :]+", line).group(0)
            blocks[current] = [line]
        elif current is not None:
            blocks[current].append(line.strip())
    return blocks


def help_commands(output: str) -> list[str]:
    """The command names listed under "Commands:" in `ptrun --help` (not the usage text above)."""
    listing = output.split("\nCommands:\n", 1)[1]
    return [m.group(1) for line in listing.splitlines() if (m := re.match(r"  (\S+)", line))]


def task_line(output: str, name: str) -> str:
    """The line of `ptrun tasks` that lists task ``name``."""
    (line,) = [l for l in output.splitlines() if l.split()[:1] == [name]]
    return line


def sentiment_examples(labels=("positive", "negative")):
    sentiment = registry.get_task("sentiment")
    return [sentiment.from_record(Record({"text": "t", "label": lab}, "f", i)) for i, lab in enumerate(labels, 1)]


def assert_reported(info, hook: str, message: str) -> None:
    """``info`` (a plugin whose ``hook`` raised RuntimeError(message)) is the one plugin reported
    as broken: by name, with the exception and where it was raised, and no traceback."""
    assert info.error is not None, f"{info.name}: the failure of {hook} was not recorded"
    assert info.error.startswith(f"hook {hook} failed: RuntimeError: {message} (at "), info.error
    assert "test_plugins.py:" in info.error and "Traceback" not in info.error
    assert [i.name for i in registry.load_errors()] == [info.name]


# --------------------------------------------------------------------------- listing


def test_plugins_json_lists_builtins_in_load_order(cli):
    result = cli("plugins", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    # Pinned by conftest: the default plugin, then ptrun's own entry points (sorted by name).
    assert [info["name"] for info in listed] == [DEFAULT_PLUGIN, *BUILTIN_ENTRY_POINTS]
    infos = {info["name"]: info for info in listed}
    for name in BUILTIN_ENTRY_POINTS:
        assert infos[name]["version"] == ptrun.__version__
        assert infos[name]["distribution"] == "ptrun"
        assert infos[name]["module"] == f"ptrun.plugins.{name}"
        assert infos[name]["error"] is None
    for info in listed:
        assert info["overrides"] == [], info  # no built-in plugin replaces another's things
    assert infos[DEFAULT_PLUGIN]["distribution"] == "ptrun"
    assert infos[DEFAULT_PLUGIN]["hooks"] == ["ptrun_readers"]
    # Task plugins provide tasks (and readers); template dirs and model aliases are `builtin`'s.
    assert infos["builtin"]["hooks"] == ["ptrun_models", "ptrun_template_dirs"]
    assert infos["ner"]["hooks"] == ["ptrun_readers", "ptrun_tasks"]
    assert infos["qa"]["hooks"] == ["ptrun_readers", "ptrun_tasks"]
    assert infos["dialogue"]["hooks"] == ["ptrun_commands", "ptrun_readers", "ptrun_tasks"]
    assert infos["sentiment"]["hooks"] == ["ptrun_tasks"]


def test_plugins_text_output(cli):
    result = cli("plugins")
    assert result.exit_code == 0
    blocks = plugin_blocks(result.output)
    assert list(blocks) == [DEFAULT_PLUGIN, *BUILTIN_ENTRY_POINTS]
    assert blocks["ner"] == ["ner (ptrun 0.1.0): ptrun.plugins.ner", "hooks: ptrun_readers, ptrun_tasks"]
    assert blocks["builtin"] == ["builtin (ptrun 0.1.0): ptrun.plugins.builtin", "hooks: ptrun_models, ptrun_template_dirs"]
    assert "ERROR" not in result.output and "replaces" not in result.output


def test_tasks_lists_builtins(cli):
    result = cli("tasks", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) == BUILTIN_TASKS  # exactly: conftest pins the plugins the suite loads
    assert all(row["plugin"] == name for name, row in rows.items())
    assert rows["ner"]["default_template"] == "ner/default"
    assert rows["sentiment"]["default_model"] == "minilm"
    assert rows["sentiment"]["model_kinds"] == ["encoder", "causal-lm"]
    assert rows["dialogue"]["model_kinds"] == ["causal-lm"] and rows["dialogue"]["default_model"] == "smollm2"


def test_help_lists_task_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    commands = help_commands(result.output)
    # The usage text mentions "ptrun ner" anyway: look at the command listing only.
    assert BUILTIN_TASKS <= set(commands)
    assert {"tasks", "plugins", "templates", "render", "check"} <= set(commands)
    assert len(commands) == len(set(commands))
    # ptrun's own commands first, then one per task, in name order.
    assert commands[-len(BUILTIN_TASKS):] == sorted(BUILTIN_TASKS)


def test_unknown_command_is_usage_error(cli):
    result = cli("nosuchtask")
    assert result.exit_code == 2
    assert "No such command 'nosuchtask'" in result.output
    assert "Traceback" not in result.output


def test_get_task_unknown_suggests():
    with pytest.raises(ptrun.PtrunError) as info:
        registry.get_task("sentimnet")
    assert "Did you mean 'sentiment'?" in str(info.value)
    assert "installed tasks: dialogue, ner, qa, sentiment" in str(info.value)


# --------------------------------------------------------------------------- registering in-process


def test_registered_task_is_listed_and_runnable(cli, register):
    info = register(TinyPlugin(), "tinyplug")
    assert info.error is None
    assert info.hooks == ["ptrun_render_context", "ptrun_tasks", "ptrun_template_dirs"]
    result = cli("tasks")
    assert result.exit_code == 0
    line = task_line(result.output, "tiny")
    assert "A tiny task for tests" in line and line.endswith("[tinyplug]")
    assert registry.get_task("tiny").plugin == "tinyplug"
    assert "tiny" in help_commands(cli("--help").output)
    result = cli("tiny", "--help")
    assert result.exit_code == 0 and "A tiny task for tests" in result.output
    plugins_json = {i["name"]: i for i in json.loads(cli("plugins", "--json").output)}
    assert plugins_json["tinyplug"]["hooks"] == info.hooks
    assert list(plugins_json)[-1] == "tinyplug"  # registered in-process: after the installed plugins


def test_unregistered_plugin_is_gone(cli, register):
    plugin = TinyPlugin()
    register(plugin, "tinyplug")
    assert "tiny" in registry.tasks() and "tiny" in help_commands(cli("--help").output)
    registry.unregister("tinyplug")
    assert not registry.pm.is_registered(plugin)
    assert "tinyplug" not in registry.PLUGINS
    assert "tiny" not in registry.tasks()  # the cached registry was cleared
    assert "tiny" not in [l.split()[0] for l in cli("tasks").output.splitlines()]
    assert "tiny" not in help_commands(cli("--help").output)
    assert set(registry.tasks()) == BUILTIN_TASKS


def test_plugin_registered_before_loading_still_comes_after_the_installed_ones(tmp_path):
    """register() loads the installed plugins first, so an in-process plugin wins over them
    even when nothing was loaded yet (a fresh process, for a registry that never loaded)."""
    script = (
        "import ptrun\nfrom ptrun import registry\n\n"
        "class Ner(ptrun.Task):\n    name = 'ner'\n\n"
        "class Early:\n    @ptrun.hookimpl\n    def ptrun_tasks(self):\n        return [Ner()]\n\n"
        "info = registry.register(Early(), 'early')\n"
        "print(repr([list(registry.PLUGINS), registry.tasks()['ner'].plugin, info.overrides]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    expected = [[DEFAULT_PLUGIN, *BUILTIN_ENTRY_POINTS, "early"], "early", ["task 'ner' of plugin 'ner'"]]
    assert proc.stdout.strip() == repr(expected)


# --------------------------------------------------------------------------- ptrun_tasks


def test_hook_ptrun_tasks_later_plugin_wins(cli, register):
    class DupA:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            return [tiny_task("from A")]

    class DupB:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            return [tiny_task("from B")]

    a, b = register(DupA(), "dup-a"), register(DupB(), "dup-b")
    task = registry.tasks()["tiny"]
    assert (task.plugin, task.description) == ("dup-b", "from B")
    assert a.error is None and b.error is None  # replacing is not an error ...
    assert b.overrides == ["task 'tiny' of plugin 'dup-a'"]  # ... but it is recorded
    assert a.overrides == []
    registry.clear()
    registry.tasks()
    assert b.overrides == ["task 'tiny' of plugin 'dup-a'"]  # worked out afresh, never repeated
    assert task_line(cli("tasks").output, "tiny").endswith("[dup-b]")
    assert help_commands(cli("--help").output).count("tiny") == 1
    assert "from B" in cli("tiny", "--help").output
    blocks = plugin_blocks(cli("plugins").output)
    assert blocks["dup-b"][1:] == ["hooks: ptrun_tasks", "replaces task 'tiny' of plugin 'dup-a'"]
    assert blocks["dup-a"][1:] == ["hooks: ptrun_tasks"]
    infos = {i["name"]: i for i in json.loads(cli("plugins", "--json").output)}
    assert infos["dup-b"]["overrides"] == ["task 'tiny' of plugin 'dup-a'"]
    # Once the winner is gone, the other plugin's task is back and nothing is replaced.
    registry.unregister("dup-b")
    assert registry.tasks()["tiny"].description == "from A" and a.overrides == []


def test_hook_ptrun_tasks_plugin_replaces_a_builtin_task(cli, register):
    class Dup:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            return [tiny_task("a better NER", name="ner")]

    info = register(Dup(), "dup")
    assert registry.tasks()["ner"].plugin == "dup"
    assert registry.get_task("ner").description == "a better NER"
    assert info.error is None and registry.PLUGINS["ner"].error is None
    assert info.overrides == ["task 'ner' of plugin 'ner'"]
    assert registry.PLUGINS["ner"].overrides == []
    assert task_line(cli("tasks").output, "ner").endswith("[dup]")


def test_hook_ptrun_tasks_tryfirst_and_trylast_flip_the_winner(register):
    class First:
        @ptrun.hookimpl(tryfirst=True)
        def ptrun_tasks(self):
            return [tiny_task("tryfirst")]

    class Plain:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            return [tiny_task("plain")]

    class Last:
        @ptrun.hookimpl(trylast=True)
        def ptrun_tasks(self):
            return [tiny_task("trylast")]

    first = register(First(), "first")  # registered first, but counts as registered last
    plain = register(Plain(), "plain")
    last = register(Last(), "last")  # registered last, but counts as registered first
    assert registry.tasks()["tiny"].description == "tryfirst"
    assert first.overrides == ["task 'tiny' of plugin 'plain'"]
    assert plain.overrides == ["task 'tiny' of plugin 'last'"]
    assert last.overrides == []
    registry.unregister("first")
    assert registry.tasks()["tiny"].description == "plain"


def test_hook_ptrun_tasks_that_raises_is_reported_by_name(cli, register):
    class Raiser:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            raise RuntimeError("boom in tasks")

    info = register(Raiser(), "raiser")
    assert info.error is None  # registering worked; calling the hook fails
    assert set(registry.tasks()) == BUILTIN_TASKS
    assert_reported(info, "ptrun_tasks", "boom in tasks")
    result = cli("tasks")
    assert result.exit_code == 0
    assert {l.split()[0] for l in result.output.splitlines() if not l.startswith("warning")} == BUILTIN_TASKS
    assert "warning: plugin 'raiser' failed to load: hook ptrun_tasks failed: RuntimeError: boom in tasks" in result.output
    assert "Traceback" not in result.output
    # `ptrun plugins` names it, with the error instead of its hooks; the others are fine.
    result = cli("plugins")
    assert result.exit_code == 0 and "Traceback" not in result.output
    blocks = plugin_blocks(result.output)
    assert blocks["raiser"][1].startswith("ERROR: hook ptrun_tasks failed: RuntimeError: boom in tasks (at ")
    assert all(not any(l.startswith("ERROR") for l in blocks[n]) for n in BUILTIN_ENTRY_POINTS)
    infos = {i["name"]: i for i in json.loads(cli("plugins", "--json").output)}
    assert "RuntimeError: boom in tasks" in infos["raiser"]["error"]
    assert infos["ner"]["error"] is None


def test_hook_ptrun_tasks_unusable_result_is_reported_by_name(register):
    class NotAList:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            return TinyTask()  # should be [TinyTask()]

    info = register(NotAList(), "notalist")
    assert set(registry.tasks()) == BUILTIN_TASKS
    assert info.error.startswith("hook ptrun_tasks failed: TypeError: 'TinyTask' object is not iterable")
    assert [i.name for i in registry.load_errors()] == ["notalist"]


def test_hook_ptrun_tasks_sys_exit_does_not_exit_ptrun(register):
    class Exiter:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            raise SystemExit(3)

    info = register(Exiter(), "exiter")
    assert set(registry.tasks()) == BUILTIN_TASKS
    assert info.error.startswith("hook ptrun_tasks failed: SystemExit: 3")


def test_ptrun_error_from_hook_propagates(register):
    class Strict:
        @ptrun.hookimpl
        def ptrun_readers(self):
            raise ptrun.PtrunError("configure me first")

    info = register(Strict(), "strict")
    with pytest.raises(ptrun.PtrunError, match="configure me first"):
        registry.readers()
    assert info.error is None  # a message for the user, not a broken plugin


# --------------------------------------------------------------------------- ptrun_template_dirs


def test_hook_ptrun_template_dirs_adds_templates(cli, register, tmp_path):
    write(tmp_path / "tiny" / "hello.j2", "{#-\ndescription: says hello\n-#}\nHello {{ text }}, {{ shout }}!")
    register(TinyPlugin(tmp_path), "tinyplug")
    listed = {t.name: t for t in list_templates(task="tiny")}
    assert list(listed) == ["tiny/hello"]
    assert listed["tiny/hello"].origin == "tinyplug"
    assert listed["tiny/hello"].description == "says hello"
    result = cli("templates", "tiny")
    assert result.exit_code == 0 and "tiny/hello" in result.output and "from tinyplug" in result.output
    assert load_prompt("tiny/hello").name == "tiny/hello"


def test_hook_ptrun_template_dirs_later_plugin_wins(register, tmp_path):
    a = write(tmp_path / "a" / "tiny" / "hello.j2", "{#-\ndescription: from A\n-#}\nA says {{ text }}")
    b = write(tmp_path / "b" / "tiny" / "hello.j2", "{#-\ndescription: from B\n-#}\nB says {{ text }}")
    register(TinyPlugin(tmp_path / "a"), "tiny-a")
    register(TinyPlugin(tmp_path / "b"), "tiny-b")
    prompt = load_prompt("tiny/hello")
    assert Path(prompt.path) == b
    assert prompt.render({"text": "hi"}).input == "B says hi"
    (info,) = list_templates(task="tiny")
    assert (info.origin, info.path, info.shadowed) == ("tiny-b", b, [a])
    # The later plugin's dirs come first in the lookup order; ptrun's own come last.
    origins = [origin for origin, _d in registry.plugin_template_dirs()]
    assert origins[:2] == ["tiny-b", "tiny-a"] and origins[-1] == "ptrun"


def test_hook_ptrun_template_dirs_plugin_replaces_a_builtin_template(register, tmp_path):
    ours = write(tmp_path / "sentiment" / "review.j2", "{#-\ndescription: replaced\n-#}\nReview: {{ text }}")
    builtin = Path(load_prompt("sentiment/review").path)
    register(TinyPlugin(tmp_path), "tinyplug")
    prompt = load_prompt("sentiment/review")
    assert Path(prompt.path) == ours and prompt.render({"text": "ok"}).input == "Review: ok"
    info = {t.name: t for t in list_templates(task="sentiment")}["sentiment/review"]
    assert info.origin == "tinyplug" and info.shadowed == [builtin]


def test_hook_ptrun_template_dirs_that_raises_is_reported_by_name(cli, register):
    class Raiser:
        @ptrun.hookimpl
        def ptrun_template_dirs(self):
            raise RuntimeError("boom in template_dirs")

    info = register(Raiser(), "raiser")
    assert "sentiment/review" in {t.name for t in list_templates(task="sentiment")}
    assert load_prompt("sentiment/review").name == "sentiment/review"
    assert_reported(info, "ptrun_template_dirs", "boom in template_dirs")
    result = cli("templates", "sentiment")
    assert result.exit_code == 0 and "sentiment/review" in result.output


def test_hook_ptrun_template_dirs_single_path_is_reported_by_name(register, tmp_path):
    write(tmp_path / "tiny" / "hello.j2", "Hello")

    class OnePath:
        @ptrun.hookimpl
        def ptrun_template_dirs(self):
            return str(tmp_path)  # should be [str(tmp_path)]: iterating it would give letters

    info = register(OnePath(), "onepath")
    assert "onepath" not in [origin for origin, _d in registry.plugin_template_dirs()]
    assert info.error.startswith("hook ptrun_template_dirs failed: TypeError: returned one path")
    assert "sentiment/review" in {t.name for t in list_templates()}


# --------------------------------------------------------------------------- ptrun_render_context


def test_hook_ptrun_render_context_adds_variables(cli, register, tmp_path):
    from ptrun.prompts.render import render_context

    write(tmp_path / "tiny" / "hello.j2", "Hello {{ text }}, {{ shout }}!")
    register(TinyPlugin(tmp_path), "tinyplug")
    result = cli("render", "tiny", "-t", "tiny/hello", "--example", '{"text": "hi"}')
    assert result.exit_code == 0, result.output
    assert "Hello hi, HI!" in result.output
    # Other tasks are left alone.
    sentiment = registry.get_task("sentiment")
    ex = sentiment.from_record(Record({"text": "x", "label": "positive"}, "f", 1))
    assert "shout" not in render_context(sentiment, ex, None)
    assert render_context(registry.get_task("tiny"), Example("e", {"text": "yo"}), None)["shout"] == "YO"


def test_hook_ptrun_render_context_later_plugin_wins(register):
    from ptrun.prompts.render import render_context

    def context_plugin(values, **marks):
        class Context:
            @ptrun.hookimpl(**marks)
            def ptrun_render_context(self, task, example):
                return dict(values)

        return Context()

    register(TinyPlugin(), "tinyplug")  # its context: shout = the text upper-cased
    tiny, example = registry.get_task("tiny"), Example("e", {"text": "yo"})
    assert render_context(tiny, example, None)["shout"] == "YO"
    register(context_plugin({"shout": "from A"}), "ctx-a")
    register(context_plugin({"shout": "from B", "extra": 1}), "ctx-b")
    ctx = render_context(tiny, example, None)
    assert (ctx["shout"], ctx["extra"], ctx["text"]) == ("from B", 1, "yo")
    # Merged over the task's own context too: a plugin may replace a task variable.
    register(context_plugin({"text": "replaced"}), "ctx-text")
    assert render_context(tiny, example, None)["text"] == "replaced"
    # tryfirst: counts as registered last, whenever it was registered.
    register(context_plugin({"shout": "tryfirst"}, tryfirst=True), "ctx-first")
    register(context_plugin({"shout": "plain, later"}), "ctx-c")
    assert render_context(tiny, example, None)["shout"] == "tryfirst"


def test_hook_ptrun_render_context_that_raises_is_reported_by_name(cli, register):
    from ptrun.prompts.render import render_context

    class Raiser:
        @ptrun.hookimpl
        def ptrun_render_context(self, task, example):
            raise RuntimeError("boom in render_context")

    info = register(Raiser(), "raiser")
    sentiment = registry.get_task("sentiment")
    (ex,) = sentiment_examples(["positive"])
    ctx = render_context(sentiment, ex, LabelMap(["negative", "positive"]))
    assert ctx["text"] == "t" and ctx["label"] == "positive"
    assert_reported(info, "ptrun_render_context", "boom in render_context")
    result = cli("render", "sentiment", "--example", '{"text": "fine film", "label": "positive"}')
    assert result.exit_code == 0, result.output
    assert "fine film" in result.output and "Traceback" not in result.output


# --------------------------------------------------------------------------- ptrun_jinja_env


def test_hook_ptrun_jinja_env_adds_filter(register, tmp_path):
    class FilterPlugin:
        @ptrun.hookimpl
        def ptrun_jinja_env(self, env):
            env.filters["exclaim"] = lambda s: str(s) + "!!"

    path = write(tmp_path / "t.j2", "{{ text | exclaim }}")
    with pytest.raises(ptrun.TemplateError, match="No filter named 'exclaim'"):
        load_prompt(str(path))
    info = register(FilterPlugin(), "filterplug")
    assert info.hooks == ["ptrun_jinja_env"]
    prompt = load_prompt(str(path))
    assert prompt.render({"text": "wow"}).input == "wow!!"
    # The environment stays a sandbox.
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    assert isinstance(prompt.env, ImmutableSandboxedEnvironment)


def test_hook_ptrun_jinja_env_later_plugin_wins_on_a_shared_filter(register, tmp_path):
    def filter_plugin(word):
        class FilterPlugin:
            @ptrun.hookimpl
            def ptrun_jinja_env(self, env):
                env.filters["tag"] = lambda s: f"{s}-{word}"

        return FilterPlugin()

    register(filter_plugin("a"), "filter-a")
    register(filter_plugin("b"), "filter-b")
    path = write(tmp_path / "t.j2", "{{ text | tag }}")
    assert load_prompt(str(path)).render({"text": "x"}).input == "x-b"


def test_hook_ptrun_jinja_env_that_raises_is_reported_by_name(register, tmp_path):
    class Raiser:
        @ptrun.hookimpl
        def ptrun_jinja_env(self, env):
            raise RuntimeError("boom in jinja_env")

    class FilterPlugin:
        @ptrun.hookimpl
        def ptrun_jinja_env(self, env):
            env.filters["exclaim"] = lambda s: str(s) + "!!"

    register(FilterPlugin(), "filterplug")
    info = register(Raiser(), "raiser")  # called before the filter plugin: it must not stop it
    path = write(tmp_path / "t.j2", "{{ text | exclaim }}")
    assert load_prompt(str(path)).render({"text": "wow"}).input == "wow!!"
    assert load_prompt("sentiment/review").name == "sentiment/review"
    assert_reported(info, "ptrun_jinja_env", "boom in jinja_env")


# --------------------------------------------------------------------------- ptrun_label_map


def label_map_plugin(words, task_name="sentiment", **marks):
    class LabelMapPlugin:
        @ptrun.hookimpl(**marks)
        def ptrun_label_map(self, task, labels, prompt):
            if task.name != task_name or words is None:
                return None
            return LabelMap(["negative", "positive"], words=dict(zip(["negative", "positive"], words)))

    return LabelMapPlugin()


def test_hook_ptrun_label_map_later_plugin_wins(register):
    from ptrun.run.setup import build_label_map

    sentiment, prompt, train = registry.get_task("sentiment"), load_prompt("sentiment/cloze"), {"train": sentiment_examples()}
    own = build_label_map(sentiment, prompt, train)
    assert own.words == sentiment.label_map(["negative", "positive"], prompt).words  # no plugin answers
    register(label_map_plugin(["bad", "good"]), "lm-a")
    assert build_label_map(sentiment, prompt, train).words == {"negative": "bad", "positive": "good"}
    register(label_map_plugin(["awful", "superb"]), "lm-b")
    assert build_label_map(sentiment, prompt, train).words == {"negative": "awful", "positive": "superb"}
    register(label_map_plugin(None), "lm-none")  # later, but does not answer: the latest answer counts
    assert build_label_map(sentiment, prompt, train).words == {"negative": "awful", "positive": "superb"}
    # Other tasks keep their own label map.
    ner = registry.get_task("ner")
    assert build_label_map(ner, None, {"train": [Example("n", {"tokens": ["A"], "tags": ["B-PER"]})]}).kind == "tags"


def test_hook_ptrun_label_map_tryfirst_overrides(cli, register):
    from ptrun.run.setup import build_label_map

    register(label_map_plugin(["awful", "superb"], tryfirst=True), "override")
    register(label_map_plugin(["meh", "nice"]), "plain")  # registered later: without tryfirst it would win
    sentiment = registry.get_task("sentiment")
    lm = build_label_map(sentiment, load_prompt("sentiment/cloze"), {"train": sentiment_examples()})
    assert lm.words == {"negative": "awful", "positive": "superb"}
    result = cli("render", "sentiment", "-t", "sentiment/cloze", "--example", '{"text": "fine", "label": "positive"}')
    assert result.exit_code == 0, result.output
    assert "superb." in result.output and "nice" not in result.output and "great" not in result.output


def test_hook_ptrun_label_map_that_raises_is_reported_by_name(register):
    from ptrun.run.setup import build_label_map

    class Raiser:
        @ptrun.hookimpl(tryfirst=True)
        def ptrun_label_map(self, task, labels, prompt):
            raise RuntimeError("boom in label_map")

    register(label_map_plugin(["bad", "good"]), "lm-a")
    info = register(Raiser(), "raiser")
    sentiment = registry.get_task("sentiment")
    lm = build_label_map(sentiment, load_prompt("sentiment/cloze"), {"train": sentiment_examples()})
    assert lm.words == {"negative": "bad", "positive": "good"}  # the next plugin still answers
    assert_reported(info, "ptrun_label_map", "boom in label_map")


# --------------------------------------------------------------------------- ptrun_metrics


def metrics_plugin(values, **marks):
    class MetricsPlugin:
        @ptrun.hookimpl(**marks)
        def ptrun_metrics(self, task, predictions, references, label_map):
            return dict(values) if values is not None else None

    return MetricsPlugin()


def test_hook_ptrun_metrics_adds_metrics(register):
    class Count:
        @ptrun.hookimpl
        def ptrun_metrics(self, task, predictions, references, label_map):
            return {"n_predictions": len(predictions)}

    sentiment = registry.get_task("sentiment")
    lm = LabelMap(["negative", "positive"])
    before = metrics.compute(sentiment, ["positive", "negative"], ["positive", "positive"], lm)
    assert before == sentiment.metrics(["positive", "negative"], ["positive", "positive"], lm)  # the task's own
    assert before["accuracy"] == 0.5 and "n_predictions" not in before
    register(Count(), "count")
    after = metrics.compute(sentiment, ["positive", "negative"], ["positive", "positive"], lm)
    assert after["n_predictions"] == 2
    assert after["accuracy"] == 0.5
    assert after["per_class_report"]["positive"]["support"] == 2
    assert metrics.scalars(after) == {"accuracy": 0.5, "macro_f1": after["macro_f1"], "n_predictions": 2}


def test_hook_ptrun_metrics_later_plugin_wins_and_is_merged_over_the_tasks_own(register):
    sentiment = registry.get_task("sentiment")
    lm = LabelMap(["negative", "positive"])
    args = (sentiment, ["positive", "negative"], ["positive", "positive"], lm)
    register(metrics_plugin({"score": 1.0, "accuracy": 0.9}), "m-a")
    register(metrics_plugin({"score": 2.0}), "m-b")
    register(metrics_plugin(None), "m-none")  # answers nothing: changes nothing
    got = metrics.compute(*args)
    assert got["score"] == 2.0  # m-b is registered after m-a
    assert got["accuracy"] == 0.9  # a plugin's value replaces the task's own 0.5
    assert got["macro_f1"] == sentiment.metrics(*args[1:])["macro_f1"]  # the rest is the task's
    register(metrics_plugin({"score": 3.0}, trylast=True), "m-last")  # registered last, counts as first
    assert metrics.compute(*args)["score"] == 2.0


def test_hook_ptrun_metrics_that_raises_is_reported_by_name(register):
    class Raiser:
        @ptrun.hookimpl
        def ptrun_metrics(self, task, predictions, references, label_map):
            raise RuntimeError("boom in metrics")

    register(metrics_plugin({"score": 1.0}), "m-a")
    info = register(Raiser(), "raiser")
    got = metrics.compute(registry.get_task("sentiment"), ["positive"], ["positive"], LabelMap(["negative", "positive"]))
    assert got["accuracy"] == 1.0 and got["score"] == 1.0
    assert_reported(info, "ptrun_metrics", "boom in metrics")


# --------------------------------------------------------------------------- ptrun_readers


def read_pipe(path):
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [Record(dict(zip(("text", "label"), line.split("|"))), str(path), i) for i, line in enumerate(lines, 1)]


def reader_plugin(readers, **marks):
    class ReaderPlugin:
        @ptrun.hookimpl(**marks)
        def ptrun_readers(self):
            return dict(readers)

    return ReaderPlugin()


def test_hook_ptrun_readers_adds_a_format(register, tmp_path):
    path = write(tmp_path / "data.pipe", "good|positive\nbad|negative\n")
    with pytest.raises(ptrun.DataError, match="no reader for format 'pipe'"):
        read_records(path, "pipe")
    info = register(reader_plugin({"pipe": read_pipe}), "pipereader")
    assert info.overrides == []
    records = read_records(path, "pipe")
    assert [r.fields for r in records] == [{"text": "good", "label": "positive"}, {"text": "bad", "label": "negative"}]
    examples = registry.get_task("sentiment").read(path, "pipe")
    assert [(e.fields["label"], e.line) for e in examples] == [("positive", 1), ("negative", 2)]


def test_hook_ptrun_readers_later_plugin_wins(register, tmp_path):
    path = write(tmp_path / "data.pipe", "good|positive\n")

    def read_upper(path):
        return [Record({k: v.upper() for k, v in r.fields.items()}, r.path, r.line) for r in read_pipe(path)]

    a = register(reader_plugin({"pipe": read_pipe}), "pipe-a")
    b = register(reader_plugin({"pipe": read_upper}), "pipe-b")
    assert registry.readers()["pipe"] is read_upper
    assert read_records(path, "pipe")[0].fields == {"text": "GOOD", "label": "POSITIVE"}
    assert b.overrides == ["reader 'pipe' of plugin 'pipe-a'"] and a.overrides == []


def test_hook_ptrun_readers_later_plugin_overrides_builtin(register, tmp_path):
    def read_tsv(path):
        return [Record({"text": "from plugin"}, str(path), 1)]

    path = write(tmp_path / "d.tsv", "text\nfrom file\n")
    assert read_records(path, "tsv")[0].fields["text"] == "from file"
    info = register(reader_plugin({"tsv": read_tsv}), "tsvplug")
    assert read_records(path, "tsv")[0].fields["text"] == "from plugin"
    assert registry.get_task("sentiment").read(path, labeled=False)[0].fields["text"] == "from plugin"
    assert info.overrides == [f"reader 'tsv' of plugin '{DEFAULT_PLUGIN}'"]


def test_hook_ptrun_readers_trylast_plugin_loses_to_builtin(register, tmp_path):
    path = write(tmp_path / "d.tsv", "text\nfrom file\n")
    info = register(reader_plugin({"tsv": lambda p: [Record({"text": "from plugin"}, str(p), 1)]}, trylast=True), "tsvplug")
    assert read_records(path, "tsv")[0].fields["text"] == "from file"
    assert info.overrides == []
    assert registry.PLUGINS[DEFAULT_PLUGIN].overrides == ["reader 'tsv' of plugin 'tsvplug'"]


def test_hook_ptrun_readers_that_raises_is_reported_by_name(register, tmp_path):
    class Raiser:
        @ptrun.hookimpl
        def ptrun_readers(self):
            raise RuntimeError("boom in readers")

    register(reader_plugin({"pipe": read_pipe}), "pipereader")
    info = register(Raiser(), "raiser")
    path = write(tmp_path / "d.tsv", "text\tlabel\nfine\tpositive\n")
    assert read_records(path, "tsv")[0].fields == {"text": "fine", "label": "positive"}
    assert {"tsv", "csv", "jsonl", "json", "conll", "pipe"} <= set(registry.readers())
    assert_reported(info, "ptrun_readers", "boom in readers")


# --------------------------------------------------------------------------- ptrun_models


def model_plugin(specs, **marks):
    class ModelPlugin:
        @ptrun.hookimpl(**marks)
        def ptrun_models(self):
            return dict(specs)

    return ModelPlugin()


def test_hook_ptrun_models_aliases(cli, register, tmp_path):
    def gone():
        raise ptrun.PtrunError("The model package 'nothing' is not installed.")

    specs = {
        "tiny-alias": ModelSpec("tiny-alias", "a test folder", lambda: tmp_path, kind="encoder"),
        "gone": ModelSpec("gone", "not installed", gone),
    }
    with pytest.raises(ptrun.PtrunError, match="Unknown model 'tiny-alias'"):
        models.resolve("tiny-alias")
    register(model_plugin(specs), "aliases")
    resolved = models.resolve("tiny-alias")
    assert resolved.path == tmp_path and resolved.kind == "encoder" and resolved.run_dir is None
    with pytest.raises(ptrun.PtrunError, match="not installed"):
        models.resolve("gone")
    result = cli("models", "--json")
    assert result.exit_code == 0
    rows = {r["alias"]: r for r in json.loads(result.output)}
    assert rows["tiny-alias"]["path"] == str(tmp_path)
    assert rows["gone"]["path"].startswith("not available:")
    assert {"minilm", "smollm2"} <= set(rows)


def test_hook_ptrun_models_later_plugin_wins(register, tmp_path):
    def spec(alias, folder):
        (tmp_path / folder).mkdir(exist_ok=True)
        return ModelSpec(alias, f"from {folder}", lambda: tmp_path / folder, kind="encoder")

    a = register(model_plugin({"tiny-alias": spec("tiny-alias", "a")}), "models-a")
    b = register(model_plugin({"tiny-alias": spec("tiny-alias", "b"), "minilm": spec("minilm", "mine")}), "models-b")
    assert models.resolve("tiny-alias").path == tmp_path / "b"
    assert models.resolve("minilm").path == tmp_path / "mine"  # replaces the built-in alias
    assert registry.models()["smollm2"].kind == "causal-lm"  # the rest of the built-in aliases stay
    assert sorted(b.overrides) == ["model 'minilm' of plugin 'builtin'", "model 'tiny-alias' of plugin 'models-a'"]
    assert a.overrides == []


def test_hook_ptrun_models_that_raises_is_reported_by_name(cli, register):
    class Raiser:
        @ptrun.hookimpl
        def ptrun_models(self):
            raise RuntimeError("boom in models")

    info = register(Raiser(), "raiser")
    assert set(registry.models()) == {"minilm", "smollm2"}
    result = cli("models", "--json")
    assert result.exit_code == 0
    assert {r["alias"] for r in json.loads(result.output)} == {"minilm", "smollm2"}
    assert_reported(info, "ptrun_models", "boom in models")


def test_model_resolve_local_folders(tmp_path):
    write(tmp_path / "enc" / "config.json", json.dumps({"architectures": ["BertModel"]}))
    write(tmp_path / "lm" / "config.json", json.dumps({"model_type": "gpt2"}))
    assert models.resolve(str(tmp_path / "enc")).kind == "encoder"
    assert models.resolve(str(tmp_path / "lm")).kind == "causal-lm"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ptrun.PtrunError, match="neither a transformers model"):
        models.resolve(str(tmp_path / "empty"))


def test_unknown_model_from_task_command(cli, tmp_path):
    result = cli("sentiment", "--model", "nosuch", "--train", tmp_path / "x.tsv")
    assert result.exit_code == 1
    assert "Unknown model 'nosuch'" in result.output
    assert "minilm" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- ptrun_commands


def test_hook_ptrun_commands_in_process(cli, register):
    from ptrun.cli import cli as group

    class Commands:
        @ptrun.hookimpl
        def ptrun_commands(self, cli):
            @click.command("hello-test")
            @click.argument("who")
            def hello(who):
                """Say hello."""
                click.echo(f"hello {who} from a plugin")

            cli.add_command(hello)

    register(Commands(), "commands")
    before = dict(group.commands)
    try:
        assert "hello-test" not in group.commands
        results = list(registry.call_each("ptrun_commands", cli=group))
        assert results == []  # the hook returns nothing
        result = cli("hello-test", "world")
        assert result.exit_code == 0
        assert result.output == "hello world from a plugin\n"
        assert "hello-test" in help_commands(cli("--help").output)
    finally:
        group.commands.clear()
        group.commands.update(before)


def test_hook_ptrun_commands_that_raises_is_reported_by_name(cli, register):
    from ptrun.cli import cli as group

    class Raiser:
        @ptrun.hookimpl
        def ptrun_commands(self, cli):
            raise RuntimeError("boom in commands")

    info = register(Raiser(), "raiser")
    before = dict(group.commands)
    try:
        assert list(registry.call_each("ptrun_commands", cli=group)) == []
        assert "chat" in group.commands  # the dialogue plugin's command, added after the failure
        assert_reported(info, "ptrun_commands", "boom in commands")
    finally:
        group.commands.clear()
        group.commands.update(before)


# --------------------------------------------------------------------------- validation


def test_unknown_hook_is_an_error(register):
    class Nonsense:
        @ptrun.hookimpl
        def ptrun_nonsense(self):
            return 1

    obj = Nonsense()
    info = register(obj, "nonsense")
    assert info.error is not None and "ptrun_nonsense" in info.error
    assert not registry.pm.is_registered(obj)
    assert info in registry.load_errors()


@pytest.mark.parametrize("marks", [{"hookwrapper": True}, {"wrapper": True}], ids=["hookwrapper", "wrapper"])
def test_hook_wrapper_is_refused_with_a_load_error(cli, register, marks):
    class Wrapper:
        @ptrun.hookimpl(**marks)
        def ptrun_tasks(self):
            result = yield
            return result

    obj = Wrapper()
    info = register(obj, "wrapping")
    assert not registry.pm.is_registered(obj)
    assert info.hooks == []
    assert info.error.startswith("PluginValidationError: ptrun_tasks: ")
    assert "does not support hook wrappers; use tryfirst/trylast" in info.error
    assert [i.name for i in registry.load_errors()] == ["wrapping"]
    assert set(registry.tasks()) == BUILTIN_TASKS  # nothing of it is called
    result = cli("plugins")
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert plugin_blocks(result.output)["wrapping"][1].startswith("ERROR: PluginValidationError: ptrun_tasks: ")
    assert "warning: plugin 'wrapping' failed to load: PluginValidationError" in cli("tasks").output


# --------------------------------------------------------------------------- entry points (fresh processes)


def make_dist(root: Path, dist: str, module: str, source: str, entry: str, version: str = "0.1") -> Path:
    # Named as installers name it: "-" in a distribution name is "_" in the folder name.
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    write(info / "entry_points.txt", f"[ptrun]\n{entry} = {module}\n")
    write(root / f"{module}.py", source)
    return root


TASK_PLUGIN_SOURCE = (
    "import ptrun\n\n"
    "class T(ptrun.Task):\n"
    "    name = {task!r}\n"
    "    description = {description!r}\n\n"
    "@ptrun.hookimpl\ndef ptrun_tasks():\n    return [T()]\n"
)


def task_dist(root: Path, dist: str, task: str, description: str) -> Path:
    module = dist.replace("-", "_") + "_mod"
    return make_dist(root, dist, module, TASK_PLUGIN_SOURCE.format(task=task, description=description), dist)


@pytest.fixture
def broken_dist(tmp_path):
    return make_dist(
        tmp_path / "site", "brokenplug", "brokenplug_mod", 'raise ImportError("no module named frobnicate")\n', "broken"
    )


def test_broken_entry_point_is_listed_with_error(broken_dist, tmp_path):
    env = {"PYTHONPATH": str(broken_dist), **load_plugins_env("broken")}
    proc = run_ptrun("plugins", "--json", env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    infos = {i["name"]: i for i in json.loads(proc.stdout)}
    broken = infos["broken"]
    assert broken["distribution"] == "brokenplug" and broken["version"] == "0.1"
    assert broken["module"] == "brokenplug_mod"
    assert broken["hooks"] == []
    assert broken["error"].startswith("ImportError: no module named frobnicate")
    assert "brokenplug_mod.py:1" in broken["error"]
    assert all(infos[n]["error"] is None for n in BUILTIN_ENTRY_POINTS)
    assert "Traceback" not in proc.stderr


def test_broken_entry_point_does_not_hide_tasks(broken_dist, tmp_path):
    env = {"PYTHONPATH": str(broken_dist), **load_plugins_env("broken")}
    proc = run_ptrun("tasks", env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert {l.split()[0] for l in proc.stdout.splitlines()} == BUILTIN_TASKS
    assert "warning: plugin 'broken' failed to load: ImportError" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_entry_point_exiting_does_not_exit_ptrun(tmp_path):
    site = make_dist(tmp_path / "site", "exitplug", "exitplug_mod", "import sys\nsys.exit(3)\n", "exiter")
    proc = run_ptrun("plugins", "--json", env={"PYTHONPATH": str(site), **load_plugins_env("exiter")}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    infos = {i["name"]: i for i in json.loads(proc.stdout)}
    assert infos["exiter"]["error"].startswith("SystemExit")


def test_conftest_pin_keeps_installed_plugins_out(tmp_path):
    """The suite's processes inherit conftest's PTRUN_LOAD_PLUGINS: an installed third-party
    plugin is not loaded unless a test asks for it."""
    site = task_dist(tmp_path / "site", "extraplug", "extra", "an installed extra task")
    proc = run_ptrun("tasks", "--json", env={"PYTHONPATH": str(site)}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert {row["name"] for row in json.loads(proc.stdout)} == BUILTIN_TASKS
    proc = run_ptrun("tasks", "--json", env={"PYTHONPATH": str(site), **load_plugins_env("extraplug")}, cwd=tmp_path, timeout=60)
    assert {row["name"] for row in json.loads(proc.stdout)} == BUILTIN_TASKS | {"extra"}
    assert PINNED_PLUGINS.split(",") == BUILTIN_ENTRY_POINTS


def test_load_plugins_env_selects_by_entry_point_name(tmp_path):
    proc = run_ptrun("tasks", "--json", env={"PTRUN_LOAD_PLUGINS": "ner"}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [row["name"] for row in json.loads(proc.stdout)] == ["ner"]


def test_load_plugins_env_empty_loads_none(tmp_path):
    proc = run_ptrun("tasks", "--json", env={"PTRUN_LOAD_PLUGINS": ""}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_load_plugins_env_selects_by_distribution(broken_dist, tmp_path):
    env = {"PTRUN_LOAD_PLUGINS": "brokenplug", "PYTHONPATH": str(broken_dist)}
    proc = run_ptrun("plugins", "--json", env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    names = [i["name"] for i in json.loads(proc.stdout)]
    assert names == [DEFAULT_PLUGIN, "broken"]  # the default plugin always loads


@pytest.mark.parametrize("site_order", [("aaa", "zzz"), ("zzz", "aaa")], ids=["aaa-first", "zzz-first"])
def test_registration_order_is_fixed_whatever_the_path(tmp_path, site_order):
    """Default plugin, ptrun's entry points, then other distributions by name: the later one wins
    on a shared task name whichever comes first on sys.path, and replaces ptrun's own."""
    sites = {
        "aaa": task_dist(tmp_path / "site-aaa", "aaa-plug", "tiny", "from aaa"),
        "zzz": task_dist(tmp_path / "site-zzz", "zzz-plug", "tiny", "from zzz"),
    }
    task_dist(sites["aaa"], "aaa-sentiment", "sentiment", "a third-party sentiment")
    env = {
        "PYTHONPATH": ":".join(str(sites[name]) for name in site_order),
        **load_plugins_env("aaa-plug", "zzz-plug", "aaa-sentiment"),
    }
    proc = run_ptrun("plugins", "--json", env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    infos = json.loads(proc.stdout)
    assert [i["name"] for i in infos] == [DEFAULT_PLUGIN, *BUILTIN_ENTRY_POINTS, "aaa-plug", "aaa-sentiment", "zzz-plug"]
    overrides = {i["name"]: i["overrides"] for i in infos if i["overrides"]}
    assert overrides == {
        "aaa-sentiment": ["task 'sentiment' of plugin 'sentiment'"],
        "zzz-plug": ["task 'tiny' of plugin 'aaa-plug'"],
    }
    proc = run_ptrun("tasks", "--json", env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert (rows["tiny"]["plugin"], rows["tiny"]["description"]) == ("zzz-plug", "from zzz")
    assert (rows["sentiment"]["plugin"], rows["sentiment"]["description"]) == ("aaa-sentiment", "a third-party sentiment")


def test_plugins_command_shows_what_every_naming_hook_replaced_or_failed_on(tmp_path):
    source = (
        "import ptrun\n\n"
        "@ptrun.hookimpl\ndef ptrun_readers():\n    return {'tsv': lambda path: []}\n\n"
        "@ptrun.hookimpl\ndef ptrun_models():\n    raise RuntimeError('no models today')\n"
    )
    site = make_dist(tmp_path / "site", "otherplug", "otherplug_mod", source, "other")
    proc = run_ptrun("plugins", env={"PYTHONPATH": str(site), **load_plugins_env("other")}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = plugin_blocks(proc.stdout)["other"]
    assert f"replaces reader 'tsv' of plugin '{DEFAULT_PLUGIN}'" in lines
    assert any(l.startswith("ERROR: hook ptrun_models failed: RuntimeError: no models today") for l in lines)


def test_commands_hook_through_main(tmp_path):
    source = (
        "import click\nimport ptrun\n\n"
        "@ptrun.hookimpl\ndef ptrun_commands(cli):\n"
        "    @click.command('hello')\n"
        "    def hello():\n"
        "        click.echo('hello from an installed plugin')\n"
        "    cli.add_command(hello)\n"
    )
    site = make_dist(tmp_path / "site", "helloplug", "helloplug_mod", source, "hello")
    proc = run_ptrun("hello", env={"PYTHONPATH": str(site), **load_plugins_env("hello")}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from an installed plugin\n"


def test_commands_hook_later_plugin_wins_on_a_shared_name(tmp_path):
    source = (
        "import click\nimport ptrun\n\n"
        "@ptrun.hookimpl\ndef ptrun_commands(cli):\n"
        "    @click.command('hello')\n"
        "    def hello():\n"
        "        click.echo('hello from {who}')\n"
        "    cli.add_command(hello)\n"
    )
    site = tmp_path / "site"
    for who in ("aaa", "zzz"):
        make_dist(site, f"{who}-hello", f"{who}_hello_mod", source.format(who=who), f"{who}-hello")
    env = {"PYTHONPATH": str(site), **load_plugins_env("aaa-hello", "zzz-hello")}
    proc = run_ptrun("hello", env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from zzz\n"


def test_commands_hook_that_raises_is_not_fatal(tmp_path):
    source = "import ptrun\n\n@ptrun.hookimpl\ndef ptrun_commands(cli):\n    raise ValueError('bad command')\n"
    site = make_dist(tmp_path / "site", "badcmd", "badcmd_mod", source, "badcmd")
    env = {"PYTHONPATH": str(site), **load_plugins_env("badcmd")}
    proc = run_ptrun("tasks", env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert {l.split()[0] for l in proc.stdout.splitlines()} == BUILTIN_TASKS
    assert "warning: plugin 'badcmd' failed to load: hook ptrun_commands failed: ValueError: bad command" in proc.stderr
    # `ptrun plugins` names the plugin and its error, with no traceback anywhere.
    proc = run_ptrun("plugins", env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    blocks = plugin_blocks(proc.stdout)
    assert blocks["badcmd"][0] == "badcmd (badcmd 0.1): badcmd_mod"
    assert blocks["badcmd"][1].startswith("ERROR: hook ptrun_commands failed: ValueError: bad command (at ")
    assert "badcmd_mod.py:5" in blocks["badcmd"][1]
    assert "chat" in run_ptrun("--help", env=env, cwd=tmp_path, timeout=60).stdout  # the others' commands are added
    assert "Traceback" not in proc.stdout + proc.stderr

"""Plugins: loading, the registry, `ptrun plugins` / `ptrun tasks`, and every hook in use."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from conftest import run_ptrun, write

import ptrun
from ptrun import metrics, models, plugin_manager, registry
from ptrun.data import Example, Record, read_records
from ptrun.labels import LabelMap
from ptrun.models import ModelSpec
from ptrun.prompts import list_templates, load_prompt

BUILTIN_TASKS = {"dialogue", "ner", "qa", "sentiment"}
BUILTIN_TASK_PLUGINS = BUILTIN_TASKS | {"models"}



@pytest.fixture
def register():
    """Register in-test plugins; unregister them (and undo errors they caused) afterwards."""
    plugin_manager.load_plugins()
    saved_errors = {name: info.error for name, info in plugin_manager.PLUGINS.items()}
    added = []

    def _register(obj, name):
        info = plugin_manager.register(obj, name)
        added.append((obj, name))
        registry.clear()
        return info

    yield _register
    for obj, name in reversed(added):
        if plugin_manager.pm.is_registered(obj):
            plugin_manager.pm.unregister(obj)
        plugin_manager.PLUGINS.pop(name, None)
    for name, error in saved_errors.items():
        if name in plugin_manager.PLUGINS:
            plugin_manager.PLUGINS[name].error = error
    registry.clear()


class TinyTask(ptrun.Task):
    name = "tiny"
    description = "A tiny task for tests"
    variables = {"text": "the text", "shout": "added by a render-context plugin"}
    default_template = None

    def from_record(self, record, labeled=True):
        return Example(f"tiny-{record.line}", {"text": str(record.fields.get("text", ""))}, record.path, record.line, labeled=False)


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


# --------------------------------------------------------------------------- listing


def test_plugins_json_lists_builtins(cli):
    result = cli("plugins", "--json")
    assert result.exit_code == 0, result.output
    infos = {info["name"]: info for info in json.loads(result.output)}
    assert BUILTIN_TASK_PLUGINS <= set(infos)
    for name in BUILTIN_TASK_PLUGINS:
        assert infos[name]["version"] == ptrun.__version__
        assert infos[name]["distribution"] == "ptrun"
        assert infos[name]["error"] is None
    assert infos["ner"]["module"] == "ptrun.plugins.ner"
    assert infos["ner"]["hooks"] == sorted(
        ["ptrun_label_map", "ptrun_metrics", "ptrun_readers", "ptrun_tasks", "ptrun_template_dirs"]
    )
    assert infos["sentiment"]["hooks"] == ["ptrun_tasks", "ptrun_template_dirs"]
    assert infos["models"]["hooks"] == ["ptrun_models"]
    assert infos["ptrun.readers"]["hooks"] == ["ptrun_readers"]


def test_plugins_text_output(cli):
    result = cli("plugins")
    assert result.exit_code == 0
    assert "ner (ptrun 0.1.0): ptrun.plugins.ner" in result.output
    assert "hooks: ptrun_models" in result.output


def test_tasks_lists_builtins(cli):
    result = cli("tasks", "--json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) == BUILTIN_TASKS
    assert rows["ner"]["plugin"] == "ner" and rows["ner"]["default_template"] == "ner/default"
    assert rows["sentiment"]["default_model"] == "minilm"
    assert rows["sentiment"]["model_kinds"] == ["encoder", "causal-lm"]
    assert rows["dialogue"]["model_kinds"] == ["causal-lm"] and rows["dialogue"]["default_model"] == "smollm2"


def test_help_lists_task_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    assert "ner" in result.output and "sentiment" in result.output


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
    assert "tiny" in result.output and "A tiny task for tests" in result.output and "[tinyplug]" in result.output
    assert registry.get_task("tiny").plugin == "tinyplug"
    result = cli("tiny", "--help")
    assert result.exit_code == 0 and "A tiny task for tests" in result.output
    plugins_json = {i["name"]: i for i in json.loads(cli("plugins", "--json").output)}
    assert plugins_json["tinyplug"]["hooks"] == info.hooks


def test_unregistered_task_is_gone(cli, register):
    # The fixture of the previous test cleaned up after itself.
    assert "tiny" not in registry.tasks()
    assert "tinyplug" not in plugin_manager.PLUGINS
    assert "tiny" not in cli("tasks").output


def test_template_dirs_hook(cli, register, tmp_path):
    write(tmp_path / "tiny" / "hello.j2", "{#-\ndescription: says hello\n-#}\nHello {{ text }}, {{ shout }}!")
    register(TinyPlugin(tmp_path), "tinyplug")
    listed = {t.name: t for t in list_templates(task="tiny")}
    assert listed["tiny/hello"].origin == "tinyplug"
    assert listed["tiny/hello"].description == "says hello"
    result = cli("templates", "tiny")
    assert result.exit_code == 0 and "tiny/hello" in result.output and "from tinyplug" in result.output
    assert load_prompt("tiny/hello").name == "tiny/hello"


def test_render_context_hook(cli, register, tmp_path):
    from ptrun.runner import render_context

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


def test_jinja_env_hook_adds_filter(register, tmp_path):
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


def test_label_map_hook_tryfirst_overrides(cli, register):
    from ptrun.runner import build_label_map

    class Override:
        @ptrun.hookimpl(tryfirst=True)
        def ptrun_label_map(self, task, labels, prompt):
            if task.name != "sentiment":
                return None
            return LabelMap(["negative", "positive"], words={"negative": "awful", "positive": "superb"})

    class Plain:  # registered later, so without tryfirst it would be asked first
        @ptrun.hookimpl
        def ptrun_label_map(self, task, labels, prompt):
            if task.name != "sentiment":
                return None
            return LabelMap(["negative", "positive"], words={"negative": "meh", "positive": "nice"})

    register(Override(), "override")
    register(Plain(), "plain")
    sentiment = registry.get_task("sentiment")
    examples = [sentiment.from_record(Record({"text": "t", "label": lab}, "f", i)) for i, lab in enumerate(["positive", "negative"], 1)]
    lm = build_label_map(sentiment, load_prompt("sentiment/cloze"), {"train": examples})
    assert lm.words == {"negative": "awful", "positive": "superb"}
    result = cli("render", "sentiment", "-t", "sentiment/cloze", "--example", '{"text": "fine", "label": "positive"}')
    assert result.exit_code == 0, result.output
    assert "superb." in result.output and "great" not in result.output
    # The NER task's own label map is untouched.
    ner = registry.get_task("ner")
    assert build_label_map(ner, None, {"train": [Example("n", {"tokens": ["A"], "tags": ["B-PER"]})]}).kind == "tags"


def test_metrics_hook_adds_metrics(register):
    class Count:
        @ptrun.hookimpl
        def ptrun_metrics(self, task, predictions, references, label_map):
            return {"n_predictions": len(predictions)}

    sentiment = registry.get_task("sentiment")
    lm = LabelMap(["negative", "positive"])
    before = metrics.compute(sentiment, ["positive", "negative"], ["positive", "positive"], lm)
    assert before["accuracy"] == 0.5 and "n_predictions" not in before
    register(Count(), "count")
    after = metrics.compute(sentiment, ["positive", "negative"], ["positive", "positive"], lm)
    assert after["n_predictions"] == 2
    assert after["accuracy"] == 0.5
    assert after["per_class_report"]["positive"]["support"] == 2
    assert metrics.scalars(after) == {"accuracy": 0.5, "macro_f1": after["macro_f1"], "n_predictions": 2}


def test_readers_hook_adds_format(register, tmp_path):
    def read_pipe(path):
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return [Record(dict(zip(("text", "label"), line.split("|"))), str(path), i) for i, line in enumerate(lines, 1)]

    class PipeReader:
        @ptrun.hookimpl
        def ptrun_readers(self):
            return {"pipe": read_pipe}

    path = write(tmp_path / "data.pipe", "good|positive\nbad|negative\n")
    with pytest.raises(ptrun.DataError, match="no reader for format 'pipe'"):
        read_records(path, "pipe")
    register(PipeReader(), "pipereader")
    records = read_records(path, "pipe")
    assert [r.fields for r in records] == [{"text": "good", "label": "positive"}, {"text": "bad", "label": "negative"}]
    examples = registry.get_task("sentiment").read(path, "pipe")
    assert [(e.fields["label"], e.line) for e in examples] == [("positive", 1), ("negative", 2)]


def test_readers_hook_later_plugin_overrides_builtin(register, tmp_path):
    class Tsv:
        @ptrun.hookimpl
        def ptrun_readers(self):
            return {"tsv": lambda path: [Record({"text": "from plugin"}, str(path), 1)]}

    path = write(tmp_path / "d.tsv", "text\nfrom file\n")
    assert read_records(path)[0].fields["text"] == "from file"
    register(Tsv(), "tsvplug")
    assert read_records(path)[0].fields["text"] == "from plugin"


def test_models_hook_aliases(cli, register, tmp_path):
    def gone():
        raise ptrun.PtrunError("The model package 'nothing' is not installed.")

    class Aliases:
        @ptrun.hookimpl
        def ptrun_models(self):
            return {
                "tiny-alias": ModelSpec("tiny-alias", "a test folder", lambda: tmp_path, kind="encoder"),
                "gone": ModelSpec("gone", "not installed", gone),
            }

    with pytest.raises(ptrun.PtrunError, match="Unknown model 'tiny-alias'"):
        models.resolve("tiny-alias")
    register(Aliases(), "aliases")
    resolved = models.resolve("tiny-alias")
    assert resolved.path == tmp_path and resolved.kind == "encoder" and resolved.run_dir is None
    with pytest.raises(ptrun.PtrunError, match="not installed"):
        models.resolve("gone")
    result = cli("models", "--json")
    assert result.exit_code == 0
    rows = {r["alias"]: r for r in json.loads(result.output)}
    assert rows["tiny-alias"]["path"] == str(tmp_path)
    assert rows["gone"]["path"].startswith("not available:")
    assert "minilm" in rows


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


def test_commands_hook_in_process(cli, register):
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
    try:
        assert "hello-test" not in group.commands
        results = list(plugin_manager.call_each("ptrun_commands", cli=group))
        assert results == []  # the hook returns nothing
        result = cli("hello-test", "world")
        assert result.exit_code == 0
        assert result.output == "hello world from a plugin\n"
        assert "hello-test" in cli("--help").output
    finally:
        group.commands.pop("hello-test", None)


def test_hook_that_raises_is_recorded_and_others_still_work(cli, register):
    class Raiser:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            raise RuntimeError("boom")

    info = register(Raiser(), "raiser")
    assert info.error is None  # registering worked; calling the hook fails
    assert set(registry.tasks()) == BUILTIN_TASKS
    assert "hook ptrun_tasks failed: RuntimeError: boom" in info.error
    result = cli("tasks")
    assert result.exit_code == 0
    assert "ner" in result.output and "sentiment" in result.output
    assert "warning: plugin 'raiser' failed to load" in result.output
    assert "Traceback" not in result.output
    infos = {i["name"]: i for i in json.loads(cli("plugins", "--json").output)}
    assert "RuntimeError: boom" in infos["raiser"]["error"]
    assert infos["ner"]["error"] is None


def test_ptrun_error_from_hook_propagates(register):
    class Strict:
        @ptrun.hookimpl
        def ptrun_readers(self):
            raise ptrun.PtrunError("configure me first")

    register(Strict(), "strict")
    with pytest.raises(ptrun.PtrunError, match="configure me first"):
        registry.readers()


def test_unknown_hook_is_an_error(register):
    class Nonsense:
        @ptrun.hookimpl
        def ptrun_nonsense(self):
            return 1

    obj = Nonsense()
    info = register(obj, "nonsense")
    assert info.error is not None and "ptrun_nonsense" in info.error
    assert not plugin_manager.pm.is_registered(obj)
    assert info in plugin_manager.load_errors()


def test_duplicate_task_name_reports_one_plugin(register):
    class DupA:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            t = TinyTask()
            t.description = "from A"
            return [t]

    class DupB:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            t = TinyTask()
            t.description = "from B"
            return [t]

    a, b = register(DupA(), "dup-a"), register(DupB(), "dup-b")
    task = registry.tasks()["tiny"]
    winner, loser = (a, b) if task.plugin == "dup-a" else (b, a)
    assert task.plugin == winner.name and task.description == f"from {winner.name[-1].upper()}"
    assert winner.error is None
    assert loser.error == f"task 'tiny' is already provided by plugin '{winner.name}'; this one was ignored"


def test_duplicate_task_name_reports_the_later_plugin(register):
    class Dup:
        @ptrun.hookimpl
        def ptrun_tasks(self):
            t = TinyTask()
            t.name = "ner"
            return [t]

    info = register(Dup(), "dup")
    assert registry.tasks()["ner"].plugin == "ner"
    assert plugin_manager.PLUGINS["ner"].error is None
    assert info.error is not None and "already provided by plugin 'ner'" in info.error


# --------------------------------------------------------------------------- entry points (fresh processes)


def make_dist(root: Path, dist: str, module: str, source: str, entry: str, version: str = "0.1") -> Path:
    info = root / f"{dist}-{version}.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    write(info / "entry_points.txt", f"[ptrun]\n{entry} = {module}\n")
    write(root / f"{module}.py", source)
    return root


@pytest.fixture
def broken_dist(tmp_path):
    return make_dist(
        tmp_path / "site", "brokenplug", "brokenplug_mod", 'raise ImportError("no module named frobnicate")\n', "broken"
    )


def test_broken_entry_point_is_listed_with_error(broken_dist, tmp_path):
    proc = run_ptrun("plugins", "--json", env={"PYTHONPATH": str(broken_dist)}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    infos = {i["name"]: i for i in json.loads(proc.stdout)}
    broken = infos["broken"]
    assert broken["distribution"] == "brokenplug" and broken["version"] == "0.1"
    assert broken["module"] == "brokenplug_mod"
    assert broken["hooks"] == []
    assert broken["error"].startswith("ImportError: no module named frobnicate")
    assert "brokenplug_mod.py:1" in broken["error"]
    assert all(infos[n]["error"] is None for n in BUILTIN_TASK_PLUGINS)
    assert "Traceback" not in proc.stderr


def test_broken_entry_point_does_not_hide_tasks(broken_dist, tmp_path):
    proc = run_ptrun("tasks", env={"PYTHONPATH": str(broken_dist)}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ner" in proc.stdout and "sentiment" in proc.stdout
    assert "warning: plugin 'broken' failed to load: ImportError" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_entry_point_exiting_does_not_exit_ptrun(tmp_path):
    site = make_dist(tmp_path / "site", "exitplug", "exitplug_mod", "import sys\nsys.exit(3)\n", "exiter")
    proc = run_ptrun("plugins", "--json", env={"PYTHONPATH": str(site)}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    infos = {i["name"]: i for i in json.loads(proc.stdout)}
    assert infos["exiter"]["error"].startswith("SystemExit")


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
    names = {i["name"] for i in json.loads(proc.stdout)}
    assert names == {"ptrun.readers", "ptrun.classification", "broken"}  # default plugins always load


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
    proc = run_ptrun("hello", env={"PYTHONPATH": str(site)}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from an installed plugin\n"


def test_commands_hook_that_raises_is_not_fatal(tmp_path):
    source = "import ptrun\n\n@ptrun.hookimpl\ndef ptrun_commands(cli):\n    raise ValueError('bad command')\n"
    site = make_dist(tmp_path / "site", "badcmd", "badcmd_mod", source, "badcmd")
    proc = run_ptrun("tasks", env={"PYTHONPATH": str(site)}, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ner" in proc.stdout and "sentiment" in proc.stdout
    assert "warning: plugin 'badcmd' failed to load: hook ptrun_commands failed: ValueError: bad command" in proc.stderr

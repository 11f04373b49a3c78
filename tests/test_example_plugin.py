"""The third-party plugin example (examples/ptrun-intent), installed for real with pip.

The example is pip-installed into a temporary directory (no network: --no-deps and
--no-build-isolation use the setuptools already installed) and ptrun runs in fresh processes
with that directory on PYTHONPATH, so the plugin is found exactly as an installed
distribution is: through its entry point in the ``ptrun`` group.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import PINNED_PLUGINS, REPO, example_env, install_example, run_ptrun

import ptrun

EXAMPLE = REPO / "examples" / "ptrun-intent"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The directory the example was pip-installed into (once for the module)."""
    return install_example(tmp_path_factory, "ptrun-intent")


@pytest.fixture
def env(site):
    return example_env(site, "intent")


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def test_installed_files(site):
    package = site / "ptrun_intent"
    for name in ("train", "dev", "test"):
        assert (package / "data" / f"{name}.jsonl").is_file()
    for name in ("request", "options", "plain", "_layout", "_macros"):
        assert (package / "templates" / "intent" / f"{name}.j2").is_file()
    dist_info = next(site.glob("ptrun_intent-0.1.0.dist-info"))
    entry_points = (dist_info / "entry_points.txt").read_text()
    assert "[ptrun]" in entry_points and "intent = ptrun_intent" in entry_points


def test_tasks_lists_intent_with_its_plugin(env):
    out = ok(run_ptrun("tasks", env=env))
    line = next(l for l in out.splitlines() if l.startswith("intent "))
    assert line.rstrip().endswith("[intent]")
    rows = {r["name"]: r for r in json.loads(ok(run_ptrun("tasks", "--json", env=env)))}
    assert rows["intent"]["plugin"] == "intent"
    assert rows["intent"]["default_template"] == "intent/request"
    assert {"ner", "sentiment"} <= set(rows)  # the built-in tasks are still there

    plugins = json.loads(ok(run_ptrun("plugins", "--json", env=env)))
    assert plugins[-1]["name"] == "intent"  # another distribution: registered after ptrun's own
    info = plugins[-1]
    assert info["error"] is None
    assert (info["distribution"], info["version"], info["module"]) == ("ptrun-intent", "0.1.0", "ptrun_intent")
    # Its label map and metric are IntentTask methods, not hooks; it replaces nothing.
    assert info["hooks"] == ["ptrun_tasks", "ptrun_template_dirs"]
    assert info["overrides"] == []
    assert all(p["error"] is None for p in plugins)


def test_restricting_plugins_leaves_intent_out(env):
    env = dict(env, PTRUN_LOAD_PLUGINS="builtin,ner,sentiment")
    out = ok(run_ptrun("tasks", env=env))
    names = [l.split()[0] for l in out.splitlines() if l.strip()]
    assert names == ["ner", "sentiment"]
    plugins = [p["name"] for p in json.loads(ok(run_ptrun("plugins", "--json", env=env)))]
    assert plugins == ["ptrun.data.readers", "builtin", "ner", "sentiment"]
    proc = run_ptrun("intent", "--help", env=env)
    assert proc.returncode == 2 and "No such command 'intent'" in proc.stderr
    # The suite's own pin (inherited from conftest) leaves it out too.
    out = ok(run_ptrun("tasks", env={"PYTHONPATH": env["PYTHONPATH"], "PTRUN_LOAD_PLUGINS": PINNED_PLUGINS}))
    assert "intent" not in [l.split()[0] for l in out.splitlines() if l.strip()]


def test_templates_and_check(env, site):
    out = ok(run_ptrun("templates", "intent", env=env))
    for name in ("intent/request", "intent/options", "intent/plain"):
        assert name in out
    assert "_layout" not in out and "_macros" not in out  # partials are not listed
    assert "from ptrun-intent:" in out

    out = ok(run_ptrun("check", site / "ptrun_intent" / "templates", env=env))
    assert "checked 5 template(s): 0 error(s), 0 warning(s)" in out
    out = ok(run_ptrun("check", env=env))  # every template on the path, the plugin's included
    assert " 0 error(s)" in out


def test_check_catches_a_broken_intent_template(env, tmp_path):
    bad = tmp_path / "intent" / "bad.j2"
    bad.parent.mkdir()
    bad.write_text(
        "{#-\ndescription: broken\nanswer_choices: {order_status: order status, cancel: cancel}\n-#}\n{{ txt }}\n",
        encoding="utf-8",
    )
    proc = run_ptrun("check", bad, env=env)
    assert proc.returncode == 1
    assert "undefined variable 'txt'" in proc.stdout
    assert "do not match the labels of task 'intent'" in proc.stdout


def test_render_shows_examples(env):
    out = ok(run_ptrun("render", "intent", "-n", "2", env=env))
    assert out.startswith("template intent/request")
    assert out.count("--- example") == 2
    assert 'Customer message: "' in out and "The customer wants:" in out
    assert "target:\n change address" in out  # the verbalizer word, not the label name

    out = ok(run_ptrun("render", "intent", "-t", "intent/options", "-n", "1", env=env))
    assert "Is this message about order status, cancel order, refund," in out
    assert "complaint or human agent?" in out


def test_train_and_evaluate(env, tiny_encoder, tmp_path):
    out_dir = tmp_path / "run"
    ok(
        run_ptrun(
            "intent", "--model", tiny_encoder, "--epochs", "1", "--limit-train", "40", "--limit-eval", "16",
            "--output-dir", out_dir, env=env,
        )
    )
    metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    for split in ("validation", "test"):
        assert "accuracy" in metrics[split] and "macro_f1" in metrics[split]
    assert 0.0 <= metrics["test"]["escalation_recall"] <= 1.0
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    assert config["task_plugin"] == "intent"
    assert config["template_source"] == "intent/request"
    assert config["label_map"]["labels"][:2] == ["order_status", "cancel_order"]  # the plugin's order
    assert config["label_map"]["words"]["speak_to_human"] == "speak to a human"
    assert (out_dir / "templates" / "intent" / "_layout.j2").is_file()  # the bundle has the parent
    preds = (out_dir / "predictions" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(preds) == 16


def test_a_third_party_classification_task_is_prompted_on_a_causal_lm(env, tiny_llama, tmp_path):
    """Nothing in the plugin knows about causal LMs: its answer choices become scored answers."""
    out_dir = tmp_path / "run"
    proc = run_ptrun("intent", "--model", tiny_llama, "--eval-only", "--limit-eval", "8", "--output-dir", out_dir, env=env)
    ok(proc)
    metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["test"]["inference"] == "score" and "escalation_recall" in metrics["test"]
    # "speak to a human" is several tokens: scored whole, and the run says so.
    assert "'speak to a human' -> spe|ak| to| a| human" in proc.stderr and "scored whole" in proc.stderr
    row = json.loads((out_dir / "predictions" / "test.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert len(row["scores"]) == len(metrics["test"]["per_class_report"])


def test_label_map_and_metric_in_process(site, monkeypatch):
    """The task's own methods: the label map always holds all eight intents, and the metrics are
    ptrun's classification metrics plus escalation_recall."""
    monkeypatch.syspath_prepend(str(site))
    import ptrun_intent

    task = ptrun_intent.TASK
    assert isinstance(task, ptrun_intent.IntentTask)
    label_map = task.label_map(["complaint"], None)
    assert label_map.labels == ptrun_intent.INTENTS and len(label_map) == 8
    assert label_map.word("speak_to_human") == "speak to a human"  # readable without answer_choices
    assert label_map.canonical("speak to a human") == "speak_to_human"  # readable words are aliases

    refs = ["complaint", "speak_to_human", "complaint", "speak_to_human", "order_status"]
    preds = ["speak_to_human", "speak_to_human", "order_status", "complaint", "complaint"]
    # 3 of 4 escalation messages reach a person (complaint <-> speak_to_human still does);
    # the order_status message predicted as a complaint does not count against recall.
    got = task.metrics(preds, refs, label_map)
    assert got["escalation_recall"] == 0.75
    assert got["accuracy"] == 1 / 5 and set(got["per_class_report"]) == set(ptrun_intent.INTENTS)
    none = task.metrics(["order_status"], ["order_status"], label_map)
    assert "escalation_recall" not in none  # undefined without escalation messages: left out, not 0
    assert none["accuracy"] == 1.0


def test_pipeline_uses_the_tasks_label_map_and_metrics(site, monkeypatch):
    """Registered in-process, the plugin's overridden methods are what ptrun's pipeline calls."""
    monkeypatch.syspath_prepend(str(site))
    import ptrun_intent

    from ptrun import registry
    from ptrun.prompts.templates import load_prompt
    from ptrun.run import metrics
    from ptrun.run.setup import build_label_map

    info = registry.register(ptrun_intent, "intent")
    try:
        assert info.error is None and info.overrides == []
        task = registry.get_task("intent")
        assert task is ptrun_intent.TASK and task.plugin == "intent"
        train = [task.from_record(ptrun.Record({"text": "where is it", "intent": "order_status"}, "f", 1))]
        prompt = load_prompt("intent/options")
        label_map = build_label_map(task, prompt, {"train": train})
        assert label_map.labels == ptrun_intent.INTENTS  # all eight, though the data holds one
        assert label_map.words == task.label_map(["order_status"], prompt).words
        got = metrics.compute(task, ["complaint", "order_status"], ["speak_to_human", "order_status"], label_map)
        assert got["escalation_recall"] == 1.0 and got["accuracy"] == 0.5
    finally:
        registry.unregister("intent")
    assert "intent" not in registry.tasks()

"""The third-party plugin example (examples/ptrun-intent), installed for real with pip.

The example is pip-installed into a temporary directory (no network: --no-deps and
--no-build-isolation use the setuptools already installed) and ptrun runs in fresh processes
with that directory on PYTHONPATH, so the plugin is found exactly as an installed
distribution is: through its entry point in the ``ptrun`` group.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, run_ptrun

EXAMPLE = REPO / "examples" / "ptrun-intent"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The directory the example was pip-installed into (once for the module)."""
    target = tmp_path_factory.mktemp("intent-site")
    # Build from a copy, so pip's build/ and egg-info never land in the source tree.
    source = tmp_path_factory.mktemp("intent-src") / "ptrun-intent"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-input",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "ptrun_intent" / "__init__.py").is_file()
    return target


@pytest.fixture
def env(site, monkeypatch):
    """Environment for ``run_ptrun``: the install directory first on PYTHONPATH, all plugins allowed."""
    monkeypatch.delenv("PTRUN_LOAD_PLUGINS", raising=False)
    paths = [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}


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

    plugins = {p["name"]: p for p in json.loads(ok(run_ptrun("plugins", "--json", env=env)))}
    info = plugins["intent"]
    assert info["error"] is None
    assert (info["distribution"], info["version"], info["module"]) == ("ptrun-intent", "0.1.0", "ptrun_intent")
    assert {"ptrun_tasks", "ptrun_template_dirs", "ptrun_label_map", "ptrun_metrics"} <= set(info["hooks"])


def test_restricting_plugins_leaves_intent_out(env):
    env = dict(env, PTRUN_LOAD_PLUGINS="ner,sentiment,models")
    out = ok(run_ptrun("tasks", env=env))
    names = [l.split()[0] for l in out.splitlines() if l.strip()]
    assert "intent" not in names
    assert {"ner", "sentiment"} <= set(names)
    proc = run_ptrun("intent", "--help", env=env)
    assert proc.returncode != 0


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
    """The hooks as plain functions: the label map always holds all eight intents."""
    monkeypatch.syspath_prepend(str(site))
    import ptrun_intent

    task = ptrun_intent.TASK
    label_map = ptrun_intent.ptrun_label_map(task=task, labels=["complaint"], prompt=None)
    assert label_map.labels == ptrun_intent.INTENTS and len(label_map) == 8
    assert label_map.word("speak_to_human") == "speak to a human"  # readable without answer_choices
    assert label_map.canonical("speak to a human") == "speak_to_human"  # readable words are aliases

    class Other:
        name = "sentiment"

    assert ptrun_intent.ptrun_label_map(task=Other(), labels=["positive"], prompt=None) is None
    assert ptrun_intent.ptrun_metrics(task=Other(), predictions=[], references=[], label_map=None) is None

    refs = ["complaint", "speak_to_human", "complaint", "speak_to_human", "order_status"]
    preds = ["speak_to_human", "speak_to_human", "order_status", "complaint", "complaint"]
    # 3 of 4 escalation messages reach a person (complaint <-> speak_to_human still does);
    # the order_status message predicted as a complaint does not count against recall.
    got = ptrun_intent.ptrun_metrics(task=task, predictions=preds, references=refs, label_map=label_map)
    assert got == {"escalation_recall": 0.75}
    none = ptrun_intent.ptrun_metrics(task=task, predictions=["order_status"], references=["order_status"], label_map=label_map)
    assert none is None  # undefined without escalation messages: left out rather than reported as 0

"""The two-field example plugin (examples/ptrun-nli): classification with several text fields.

`NliTask` only declares its fields (``premise``, ``hypothesis``); everything else is
:class:`ptrun.TextClassificationTask`'s: every field reaches the template, calibration blanks
all of them, ``--template none`` encodes them as a sentence pair. The example is pip-installed
into a temporary directory (no network: --no-deps and --no-build-isolation) and used two ways:
registered in-process from there, and found through its entry point by ptrun run in fresh
processes with that directory on PYTHONPATH.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, example_env, install_example, run_ptrun, write

import ptrun

EXAMPLE = REPO / "examples" / "ptrun-nli"
DATA = EXAMPLE / "ptrun_nli" / "data"
LABELS = ["entailment", "neutral", "contradiction"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The directory the example was pip-installed into (once for the module)."""
    return install_example(tmp_path_factory, "ptrun-nli")


@pytest.fixture
def env(site):
    return example_env(site, "nli")


@pytest.fixture
def task(site, monkeypatch):
    """The installed plugin registered in-process (and unregistered afterwards)."""
    from ptrun import registry

    monkeypatch.syspath_prepend(str(site))
    import ptrun_nli

    info = registry.register(ptrun_nli, "nli")
    try:
        assert info.error is None, info.error
        assert info.hooks == ["ptrun_tasks", "ptrun_template_dirs"]
        task = registry.get_task("nli")
        assert task is ptrun_nli.TASK and task.plugin == "nli"
        yield task
    finally:
        registry.unregister("nli")
    assert "nli" not in registry.tasks()


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def record(fields: dict, line: int = 1) -> ptrun.Record:
    return ptrun.Record(fields, "pairs.jsonl", line)


def example(task, premise: str, hypothesis: str, label: str | None = "entailment", line: int = 1):
    return task.from_record(record({"premise": premise, "hypothesis": hypothesis, "label": label}, line), label is not None)


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------- the package


def test_installed_package(site):
    package = site / "ptrun_nli"
    for name in ("train", "dev", "test"):
        assert (package / "data" / f"{name}.jsonl").is_file()
    for name in ("question", "yes-no"):
        assert (package / "templates" / "nli" / f"{name}.j2").is_file()
    dist_info = next(site.glob("ptrun_nli-0.1.0.dist-info"))
    entry_points = (dist_info / "entry_points.txt").read_text()
    assert "[ptrun]" in entry_points and "nli = ptrun_nli" in entry_points
    assert not (package / "tools").exists()  # the generator is not part of the wheel


def test_plugin_imports_only_ptrun():
    """Plugins import ptrun's public API, never its submodules (nor torch, transformers)."""
    import ast

    source = (EXAMPLE / "ptrun_nli" / "__init__.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    third_party = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names | {"__future__"}}
    assert third_party == {"ptrun"}


def test_task_declares_its_fields(task):
    import ptrun_nli

    assert isinstance(task, ptrun.TextClassificationTask)
    assert task.fields == {"premise": ("premise", "sentence1"), "hypothesis": ("hypothesis", "sentence2")}
    assert task.labels == LABELS == ptrun_nli.NLI_LABELS
    assert task.template_for("encoder") == "nli/question" and task.template_for("causal-lm") == "nli/yes-no"
    assert task.default_model == "minilm"
    assert task.demo_data() == ptrun_nli.package_dir() / "data"
    assert {"premise", "hypothesis", "label", "label_word"} <= set(task.variables)
    assert "text" not in task.variables


# --------------------------------------------------------------------------- a. records


def test_from_record_reads_both_fields(task):
    ex = task.from_record(record({"id": "p1", "premise": "A walked.", "hypothesis": "A moved.", "label": "entailment"}))
    assert ex.id == "p1"
    assert ex.fields == {"premise": "A walked.", "hypothesis": "A moved.", "label": "entailment"}
    assert task.texts(ex) == {"premise": "A walked.", "hypothesis": "A moved."}
    # GLUE-style spellings, and a gold label under SNLI's key.
    ex = task.from_record(record({"sentence1": "B sang.", "sentence2": "B was silent.", "gold_label": "contradiction"}, 4))
    assert ex.fields == {"premise": "B sang.", "hypothesis": "B was silent.", "label": "contradiction"}
    assert ex.id == "pairs-4" and (ex.path, ex.line) == ("pairs.jsonl", 4)
    # Unlabelled (predicting): the label may be missing.
    ex = task.from_record(record({"premise": "C slept.", "hypothesis": "C was awake."}), labeled=False)
    assert ex.fields["label"] is None and not ex.labeled


def test_a_missing_hypothesis_names_file_line_and_field(task, tmp_path):
    path = write(
        tmp_path / "train.jsonl",
        json.dumps({"premise": "A walked.", "hypothesis": "A moved.", "label": "entailment"}) + "\n"
        + json.dumps({"premise": "B sang.", "label": "neutral"}) + "\n",
    )
    with pytest.raises(ptrun.DataError) as info:
        task.read(path)
    err = info.value
    assert (err.path, err.line) == (str(path), 2)
    assert f"{path}:2:" in str(err)
    assert "missing hypothesis" in err.message and "'hypothesis' or 'sentence2'" in err.message
    # An empty premise is refused too, and called empty.
    with pytest.raises(ptrun.DataError, match=r"the premise is empty \(field 'premise'\)"):
        task.from_record(record({"premise": "", "hypothesis": "H", "label": "neutral"}))


def test_label_map_holds_all_three_labels(task):
    from ptrun.prompts.templates import load_prompt

    label_map = task.label_map(["neutral"], None)  # --template none, a one-label subset of data
    assert label_map.labels == LABELS and label_map.words == {}
    assert label_map.canonical("2") == "contradiction"  # MNLI/SNLI ids are aliases
    words = task.label_map(["neutral"], load_prompt("nli/yes-no")).words
    assert words == {"entailment": "Yes", "neutral": "Maybe", "contradiction": "No"}
    words = task.label_map(LABELS, load_prompt("nli/question")).words
    assert words == {"entailment": "True", "neutral": "Neither", "contradiction": "False"}


# --------------------------------------------------------------------------- b. rendering


def test_every_field_reaches_the_template(task):
    from ptrun.prompts.render import Renderer, check_prompt_for_task, render_all
    from ptrun.prompts.templates import load_prompt

    prompt = load_prompt(task.template_for("encoder"))
    check_prompt_for_task(prompt, task)
    label_map = task.label_map(LABELS, prompt)
    examples = [
        example(task, "Mara keeps three geese in Lowmere.", "Mara keeps animals."),
        example(task, "Tovi is older than Ansel.", "Ansel is older than Tovi.", "contradiction", 2),
    ]
    rendered = render_all(task, prompt, examples, label_map)
    assert rendered[0].input == "Mara keeps three geese in Lowmere. Question: Mara keeps animals. True, False or Neither?"
    assert rendered[0].target == " True"
    assert "Tovi is older than Ansel." in rendered[1].input and "Ansel is older than Tovi." in rendered[1].input
    assert rendered[1].target == " False"

    # The causal-LM template, with a demonstration: its two fields are laid out too.
    prompt = load_prompt(task.template_for("causal-lm"))
    check_prompt_for_task(prompt, task)
    label_map = task.label_map(LABELS, prompt)
    demo = example(task, "Sefa took the ferry to Quarrow.", "Sefa paid in cash.", "neutral")
    r = Renderer(task, prompt, label_map, [demo]).render(examples[0])
    assert r.input == (
        "Sefa took the ferry to Quarrow.\n"
        'Question: Does this mean that "Sefa paid in cash."? Yes, No or Maybe?\n'
        "Answer: Maybe\n\n"
        "Mara keeps three geese in Lowmere.\n"
        'Question: Does this mean that "Mara keeps animals."? Yes, No or Maybe?\n'
        "Answer:"
    )
    assert r.target == " Yes"


def test_a_template_reading_an_unknown_field_is_refused(task, tmp_path):
    from ptrun.prompts.render import check_prompt_for_task
    from ptrun.prompts.templates import load_prompt

    path = write(tmp_path / "nli" / "bad.j2", "{{ premise }} / {{ text }}\n")
    with pytest.raises(ptrun.TemplateError, match="undefined variable.*text.*provides.*hypothesis"):
        check_prompt_for_task(load_prompt(str(path)), task)


# --------------------------------------------------------------------------- c. calibration


def test_calibration_blanks_every_field(task):
    from ptrun.prompts.render import Renderer
    from ptrun.prompts.templates import load_prompt

    ex = example(task, "Orsel sold blue bowls at the fair.", "Orsel was at the fair.")
    blank = task.content_free(ex, "N/A")
    assert blank.fields["premise"] == blank.fields["hypothesis"] == "N/A"
    assert not blank.labeled and blank.id == ex.id
    assert ex.fields["premise"] == "Orsel sold blue bowls at the fair."  # the original is untouched
    prompt = load_prompt("nli/yes-no")
    r = Renderer(task, prompt, task.label_map(LABELS, prompt)).render(blank, target=False)
    assert r.input == 'N/A\nQuestion: Does this mean that "N/A"? Yes, No or Maybe?\nAnswer:'
    assert "Orsel" not in r.input and r.target is None


# --------------------------------------------------------------------------- d. --template none


def test_no_template_encodes_a_sentence_pair(task, tiny_encoder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_encoder))
    label_map = task.label_map(LABELS, None)
    examples = [
        example(task, "Kessa keeps four hens.", "Kessa has no hens.", "contradiction"),
        example(task, "The bakery sells bread.", "The bakery opens early.", "neutral", 2),
    ]
    features = task.encode(examples, [None] * len(examples), tokenizer, label_map, 64)
    assert [f["labels"] for f in features] == [2, 1]
    for f, ex in zip(features, examples):
        types = f["token_type_ids"]
        assert set(types) == {0, 1}
        first = types.index(1)
        assert types == [0] * first + [1] * (len(types) - first)  # premise segment, then hypothesis
        assert tokenizer.decode(f["input_ids"]) == (
            f"[CLS] {ex.fields['premise'].lower()} [SEP] {ex.fields['hypothesis'].lower()} [SEP]"
        )
        assert tokenizer.decode(f["input_ids"][:first]).endswith("[SEP]")  # the [SEP] between them
    # With a template the fields are one rendered text: a single segment.
    from ptrun.prompts.render import render_all
    from ptrun.prompts.templates import load_prompt

    prompt = load_prompt("nli/question")
    rendered = render_all(task, prompt, examples, task.label_map(LABELS, prompt))
    features = task.encode(examples, rendered, tokenizer, label_map, 64)
    assert set(features[0]["token_type_ids"]) == {0}
    assert tokenizer.decode(features[0]["input_ids"]).count("[SEP]") == 1


# --------------------------------------------------------------------------- e. the command line


def test_tasks_templates_and_check(env, site):
    rows = {r["name"]: r for r in json.loads(ok(run_ptrun("tasks", "--json", env=env)))}
    assert rows["nli"]["plugin"] == "nli" and rows["nli"]["default_template"] == "nli/question"
    assert {"ner", "sentiment"} <= set(rows)
    plugins = json.loads(ok(run_ptrun("plugins", "--json", env=env)))
    info = next(p for p in plugins if p["name"] == "nli")
    assert (info["distribution"], info["version"], info["module"]) == ("ptrun-nli", "0.1.0", "ptrun_nli")
    assert info["hooks"] == ["ptrun_tasks", "ptrun_template_dirs"] and info["error"] is None
    out = ok(run_ptrun("templates", "nli", env=env))
    assert "nli/question" in out and "nli/yes-no" in out and "from ptrun-nli:" in out
    out = ok(run_ptrun("check", site / "ptrun_nli" / "templates", env=env))
    assert "checked 2 template(s): 0 error(s), 0 warning(s)" in out


def test_render_shows_both_fields(env):
    first = read_jsonl(DATA / "train.jsonl")[0]
    out = ok(run_ptrun("render", "nli", "-n", "1", env=env))
    assert out.startswith("template nli/question")
    assert f"{first['premise']} Question: {first['hypothesis']} True, False or Neither?" in out
    out = ok(run_ptrun("render", "nli", "-t", "nli/yes-no", "--example",
                       json.dumps({"sentence1": "Ulla sang.", "sentence2": "Ulla was silent."}), env=env))
    assert 'Ulla sang.\nQuestion: Does this mean that "Ulla was silent."? Yes, No or Maybe?\nAnswer:' in out


PREDICT = """
import json, sys
import ptrun

run, path = sys.argv[1:]
rows = [json.loads(line) for line in open(path, encoding="utf-8")]
predictor = ptrun.load(run)
out = predictor.predict([{"premise": r["premise"], "hypothesis": r["hypothesis"]} for r in rows])
print(json.dumps([o["prediction"] for o in out]))
"""


def test_train_evaluate_and_load(env, tiny_encoder, tmp_path):
    run = tmp_path / "run"
    ok(run_ptrun("nli", "--model", tiny_encoder, "--epochs", "1", "--limit-train", "16", "--limit-eval", "8",
                 "-o", run, env=env))
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    for split in ("validation", "test"):
        assert 0.0 <= metrics[split]["accuracy"] <= 1.0 and "macro_f1" in metrics[split]
        assert list(metrics[split]["per_class_report"]) == LABELS
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["task_plugin"] == "nli" and config["template_source"] == "nli/question"
    assert config["label_map"]["labels"] == LABELS
    assert (run / "templates" / "nli" / "question.j2").is_file()

    preds = read_jsonl(run / "predictions" / "test.jsonl")
    assert len(preds) == 8
    test_rows = {r["id"]: r for r in read_jsonl(DATA / "test.jsonl")}
    for p in preds:
        gold = test_rows[p["id"]]
        assert (p["premise"], p["hypothesis"], p["reference"]) == (gold["premise"], gold["hypothesis"], gold["label"])
        assert p["prediction"] in LABELS

    # The run folder, loaded once in a fresh process, predicts what the run predicted.
    script = write(tmp_path / "predict.py", PREDICT)
    proc = subprocess.run(
        [sys.executable, str(script), str(run), str(run / "predictions" / "test.jsonl")],
        capture_output=True, text=True, env=dict(os.environ, **env), timeout=600,
    )
    loaded = json.loads(ok(proc).strip().splitlines()[-1])
    assert len(loaded) == len(preds)
    for i, (got, p) in enumerate(zip(loaded, preds)):
        assert got == p["prediction"], f"test example {i} ({p['id']}): loaded model says {got}, the run said {p['prediction']}"


def test_no_template_run(env, tiny_encoder, tmp_path):
    run = tmp_path / "run"
    ok(run_ptrun("nli", "--model", tiny_encoder, "--template", "none", "--epochs", "1", "--limit-train", "8",
                 "--limit-eval", "4", "-o", run, env=env))
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["template"] is None and config["label_map"]["labels"] == LABELS
    preds = read_jsonl(run / "predictions" / "test.jsonl")
    assert len(preds) == 4 and all(p["premise"] and p["hypothesis"] for p in preds)


def test_prompted_and_calibrated_on_a_causal_lm(env, tiny_llama, tmp_path):
    """The causal-LM default template scores Yes / Maybe / No; --calibrate uses the blanked pair."""
    run = tmp_path / "run"
    ok(run_ptrun("nli", "--model", tiny_llama, "--eval-only", "--calibrate", "--shots", "2", "--limit-eval", "6",
                 "-o", run, env=env))
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["template_source"] == "nli/yes-no"
    test = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["test"]
    assert test["inference"] == "score" and test["calibrated"] is True and test["shots"] == 2
    assert list(test["content_free_probabilities"]) == LABELS
    row = read_jsonl(run / "predictions" / "test.jsonl")[0]
    assert list(row["scores"]) == LABELS and row["premise"] and row["hypothesis"]


# --------------------------------------------------------------------------- f. demo data


def load_generator():
    spec = importlib.util.spec_from_file_location("_ptrun_nli_make_data", EXAMPLE / "tools" / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_data_is_what_the_generator_writes(tmp_path):
    make_data = load_generator()
    built = make_data.build()
    assert sorted(built) == ["dev.jsonl", "test.jsonl", "train.jsonl"]
    assert sorted(p.name for p in DATA.iterdir()) == sorted(built), "files in ptrun_nli/data/ that the generator does not write"
    for name, text in built.items():
        shipped = (DATA / name).read_bytes()
        assert shipped == text.encode("utf-8"), f"{name} differs: rerun python3 examples/ptrun-nli/tools/make_data.py"
    # write() writes exactly that, and build() is deterministic.
    paths = make_data.write(tmp_path)
    assert {p.name: p.read_bytes() for p in paths} == {n: t.encode("utf-8") for n, t in make_data.build().items()}


def test_demo_data_is_balanced_and_readable(task):
    counts = {"train": 120, "dev": 30, "test": 30}
    premises = []
    for split, n in counts.items():
        examples = task.read(DATA / f"{split}.jsonl")
        assert len(examples) == n
        assert [sum(ex.fields["label"] == label for ex in examples) for label in LABELS] == [n // 3] * 3
        premises += [ex.fields["premise"] for ex in examples]
        assert all(ex.fields["hypothesis"] and ex.fields["premise"] != ex.fields["hypothesis"] for ex in examples)
    assert len(premises) == len(set(premises))  # no premise is shared, within or across splits

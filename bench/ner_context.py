"""CoNLL-2003 NER with and without document context: ``ner/document`` (previous and next sentence
around the sentence, only its tokens tagged) against ``ner/plain`` (the sentence alone); same
model, data, epochs, lr, batch, max length and seed. Test F1 and training throughput.

Full scale (the issue's setting: full train, 3 epochs, two seeds; max length 256 gives room to
the neighbours):

    python bench/ner_context.py --seeds 42,43 --epochs 3 --max-length 256 --json-out bench/out/ner_context.json

Reduced (what bench/RESULTS.md reports: 2,000 train sentences, 1 epoch, first 1,000 test sentences):

    python bench/ner_context.py --limit-train 2000 --limit-eval 1000 --epochs 1 --seeds 42

The data folder's files have no -DOCSTART- lines (see its SOURCE.md), so each file is read as one
document: a sentence's neighbours are the sentences before and after it in file order (at the
about 1 in 15 sentences that start a Reuters document, the previous one belongs to another).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = REPO_ROOT.parent / "shared" / "datasets" / "conll2003"


def one(template: str, seed: int, a, out: Path) -> dict:
    from ptrun.config import RunConfig
    from ptrun.run.pipeline import run

    start = time.perf_counter()
    run(RunConfig(task="ner", model="minilm", train=str(Path(a.data) / "train.txt"), test=str(Path(a.data) / "test.txt"),
                  template=template, epochs=a.epochs, lr=a.lr, batch_size=a.batch_size, max_length=a.max_length,
                  seed=seed, limit_train=a.limit_train, limit_eval=a.limit_eval, output_dir=str(out), overwrite=True))
    metrics = json.loads((out / "metrics.json").read_text())
    train, test = metrics["train"], metrics["test"]
    return {"template": template, "seed": seed, "f1": test["f1"], "precision": test["precision"], "recall": test["recall"],
            "train_s": train["train_runtime"], "train_sentences_per_s": train["train_samples_per_second"],
            "wall_s": round(time.perf_counter() - start, 1), "load_avg": os.getloadavg()[0]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--templates", default="ner/plain,ner/document")
    p.add_argument("--seeds", default="42")
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--limit-train", type=int)
    p.add_argument("--limit-eval", type=int)
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "ner_context"))
    p.add_argument("--json-out")
    a = p.parse_args(argv)
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        for template in a.templates.split(","):
            row = one(template, seed, a, Path(a.output_dir) / f"{template.replace('/', '-')}-seed{seed}")
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| template | seeds | test F1 | precision | recall | train sentences/s |")
    print("|---|---|---|---|---|---|")
    for template in a.templates.split(","):
        mine = [r for r in rows if r["template"] == template]
        f1 = [r["f1"] for r in mine]
        spread = f" ± {statistics.stdev(f1):.4f}" if len(f1) > 1 else ""
        print(f"| {template} | {','.join(str(r['seed']) for r in mine)} | {statistics.mean(f1):.4f}{spread} | "
              f"{statistics.mean(r['precision'] for r in mine):.4f} | {statistics.mean(r['recall'] for r in mine):.4f} | "
              f"{statistics.mean(r['train_sentences_per_s'] for r in mine):.1f} |")
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps({"settings": vars(a), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()

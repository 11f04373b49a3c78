"""Full fine-tuning vs peft methods with the same budget, on SST-2 and CoNLL-2003 subsets (MiniLM).

    python bench/methods.py --limit-train 2000 --json-out bench/out/methods.json

For each task and method: the dev/test metric, trainable parameters, size of the saved model
folder (the adapter for LoRA), train time, and the child's peak RSS (os.wait4).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ner_conll import PTRUN_CLI, REPO_ROOT, run_child  # noqa: E402

SHARED = REPO_ROOT.parent / "shared" / "datasets"


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit-train", type=int, default=2000)
    p.add_argument("--limit-eval", type=int, default=1000)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "methods"))
    p.add_argument("--json-out")
    p.add_argument("--methods", default="full,lora,adalora,prompt-tuning,p-tuning",
                   help="comma-separated; soft-prompt methods run on SST-2 only (ptrun refuses them for tagging)")
    a = p.parse_args(argv)
    out = Path(a.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = {
        "sst2": ["sentiment", "--train", SHARED / "sst2/train.tsv", "--validation", SHARED / "sst2/dev.tsv"],
        "conll2003": ["ner", "--train", SHARED / "conll2003/train.txt", "--test", SHARED / "conll2003/test.txt"],
    }
    metric = {"sst2": ("validation", "accuracy"), "conll2003": ("test", "f1")}
    rows = []
    for name, args in tasks.items():
        for method in a.methods.split(","):
            if name == "conll2003" and method in ("prompt-tuning", "prefix-tuning", "p-tuning"):
                continue
            run = out / f"{name}-{method}"
            cmd = [sys.executable, *PTRUN_CLI, *map(str, args), "--method", method, "--epochs", f"{a.epochs:g}",
                   "--seed", str(a.seed), "--limit-train", str(a.limit_train), "--limit-eval", str(a.limit_eval),
                   "--output-dir", str(run), "--overwrite"]
            child = run_child(cmd, out / f"{name}-{method}.log")
            if child["returncode"] != 0:
                raise SystemExit(f"failed: {' '.join(cmd)} (see {out}/{name}-{method}.log)")
            m = json.loads((run / "metrics.json").read_text())
            split, key = metric[name]
            rows.append({
                "task": name, "method": method, "lr": json.loads((run / "config.json").read_text())["config"]["lr"],
                key: m[split][key], "trainable_parameters": m["train"]["trainable_parameters"],
                "trainable_percent": 100 * m["train"]["trainable_parameters"] / m["train"]["total_parameters"],
                "saved_mb": folder_mb(run / "model"), "train_seconds": m["train"]["train_runtime"],
                "peak_rss_mb": child["peak_rss_mb"],
            })
    print(json.dumps({"settings": vars(a), "rows": rows}, indent=2))
    print(f"\n{'task':10} {'method':13} {'lr':>7} {'metric':>8} {'trainable':>10} {'%':>6} {'saved MB':>9} {'train s':>8} {'RSS MB':>7}")
    for r in rows:
        value = r.get("accuracy", r.get("f1"))
        print(f"{r['task']:10} {r['method']:13} {r['lr']:7.0e} {value:8.4f} {r['trainable_parameters']:10,} "
              f"{r['trainable_percent']:6.2f} {r['saved_mb']:9.2f} {r['train_seconds']:8.1f} {r['peak_rss_mb']:7.0f}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps({"settings": vars(a), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()

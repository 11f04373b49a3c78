"""The cost of evaluating during training: ``ptrun ner`` with ``--eval-steps N`` against the same
run without it, as a ratio of training wall time (the Trainer's train_runtime, evaluations
included). Both runs use the CoNLL setting of bench/ner_conll.py (real MiniLM).

    python bench/eval_cost.py --limit-train 2000 --limit-eval 1000 --epochs 2 --eval-steps 100
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PTRUN = [sys.executable, "-c", "from ptrun.cli import main; main()"]


def one(args, out: Path, extra: list[str]) -> dict:
    cmd = [*PTRUN, "ner", "--data", str(args.data), "--limit-train", str(args.limit_train),
           "--limit-eval", str(args.limit_eval), "--epochs", f"{args.epochs:g}", "--seed", "42",
           "--output-dir", str(out), "--overwrite", *extra]
    with open(out.with_suffix(".log"), "w") as log:
        subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=True)
    return json.loads((out / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets" / "conll2003")
    parser.add_argument("--limit-train", type=int, default=2000)
    parser.add_argument("--limit-eval", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--eval-steps", type=int, default=100)
    parser.add_argument("--output-dir", type=Path, default=REPO / "bench" / "out" / "eval_cost")
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    plain = one(args, args.output_dir / "plain", [])
    evaluated = one(args, args.output_dir / "eval", ["--eval-steps", str(args.eval_steps)])
    report = {
        "plain_train_s": plain["train"]["train_runtime"],
        "eval_train_s": evaluated["train"]["train_runtime"],
        "ratio": round(evaluated["train"]["train_runtime"] / plain["train"]["train_runtime"], 3),
        "evaluations": evaluated["train"]["evaluations"],
        "steps": evaluated["train"]["steps"],
        "eval_seconds": [row["eval_runtime"] for row in evaluated["history"] if "eval_runtime" in row],
        "eval_f1": [(row["step"], round(row["eval_f1"], 4)) for row in evaluated["history"] if "eval_f1" in row],
        "test_f1": {"plain": plain["test"]["f1"], "eval": evaluated["test"]["f1"]},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

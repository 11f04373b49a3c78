"""Peak memory of `ptrun predict` on a small and a large file: it reads and writes as a stream,
so the large file should cost no more memory than the small one (target: at most 1.3x).

    python bench/predict_memory.py --run tiny:2000,200000 --run minilm:2000,20000 --threads 1 \
        --json-out bench/out/predict_memory.json

Each ``--run MODEL:SIZES`` predicts files of those line counts with MODEL (the first size is the
baseline its ratios are against). MODEL ``tiny`` is a 2-layer, 32-wide BERT built from a config
with the real MiniLM tokenizer (the test suite's model: fast enough for 200,000 lines on a shared
CPU); anything else is passed to ``ptrun predict`` as it is (``minilm``: the real MiniLM-L6-H384).
For each size a sentiment TSV (``id``, ``text``: 3-30 random words from a fixed vocabulary,
seeded) is generated in a temporary folder and predicted by a child process

    python -m ptrun.cli predict MODEL FILE -o OUT.jsonl --task sentiment --template none ...

(zero-shot: an untrained head, which costs the same as a trained one). ``--threads N`` sets
OMP_NUM_THREADS in the child (on a shared machine 1 avoids thread oversubscription). Peak RSS is the child's own (``os.wait4``'s ``ru_maxrss``); seconds and examples/s
are the child's own summary line (prediction only, the model load apart). The output is checked:
one line per input, in order.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
WORDS = ["a", "the", "film", "movie", "story", "acting", "plot", "wonderful", "moving", "dull", "long", "boring", "funny", "sad", "great", "bad", "brilliant", "awful", "slow", "fast", "charming", "tedious", "clever", "silly", "warm", "cold", "and", "but", "not", "very", "too", "far", "quite", "really", "truly", "never", "always", "it", "was", "is", "this", "that"]


def write_input(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        f.write("id\ttext\n")
        f.writelines(f"r{i}\t{' '.join(rng.choices(WORDS, k=rng.randint(3, 30)))}\n" for i in range(n))


def tiny_encoder(folder: Path) -> Path:
    """The test suite's tiny BERT (2 layers, 32 wide) with the real MiniLM tokenizer."""
    import torch
    from ptrun.plugins.builtin import minilm_dir
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = folder / "tiny-bert"
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def measure(model: str, n: int, args, folder: Path) -> dict:
    data, out = folder / f"in-{n}.tsv", folder / f"out-{n}.jsonl"
    write_input(data, n)
    cmd = [sys.executable, "-m", "ptrun.cli", "predict", model, str(data), "-o", str(out), "--task", args.task,
           "--template", args.template, "--chunk-size", str(args.chunk_size), "--batch-size", str(args.batch_size),
           "--device", "cpu"]
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}))
    start = time.perf_counter()
    with open(folder / f"stderr-{n}.txt", "wb") as err:
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=REPO_ROOT, env=env)
        stdout = child.stdout.read().decode()
        _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = (folder / f"stderr-{n}.txt").read_text(errors="replace")[-2000:]
        raise SystemExit(f"ptrun predict failed on {n} lines:\n{tail}")
    summary = dict(re.findall(r"(examples/s|examples|rejects|seconds): ([\d.]+)", stdout))
    with open(out, encoding="utf-8") as f:
        count = sum(1 for _ in f)
    assert count == n, f"{count} output lines for {n} inputs"
    return {
        "lines": n,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: KiB
        "predict_seconds": float(summary["seconds"]),
        "examples_per_s": float(summary["examples/s"]),
        "wall_seconds": round(wall, 1),
        "output_mb": round(out.stat().st_size / 2**20, 1),
        "input_mb": round(data.stat().st_size / 2**20, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", metavar="MODEL:SIZES",
                    help="a model (tiny, minilm, a folder) and comma-separated line counts, the first the baseline "
                    "(repeatable; default: tiny:2000,200000)")
    ap.add_argument("--task", default="sentiment")
    ap.add_argument("--template", default="none")
    ap.add_argument("--chunk-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the child processes")
    ap.add_argument("--json-out", type=Path)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ptrun-predict-mem-") as tmp:
        for spec in a.run or ["tiny:2000,200000"]:
            name, _, sizes = spec.partition(":")
            model = str(tiny_encoder(Path(tmp))) if name == "tiny" else name
            group = []
            for n in (int(s) for s in sizes.split(",")):
                group.append({"model": name, **measure(model, n, a, Path(tmp))})
                print(json.dumps(group[-1]), file=sys.stderr, flush=True)
            for row in group:
                row["rss_vs_first"] = round(row["peak_rss_mb"] / group[0]["peak_rss_mb"], 3)
            rows += group
    result = {"task": a.task, "template": a.template, "chunk_size": a.chunk_size, "batch_size": a.batch_size,
              "threads": a.threads, "rows": rows, "target_ratio": 1.3, "ok": all(r["rss_vs_first"] <= 1.3 for r in rows)}
    print(json.dumps(result, indent=2))
    print("\n| model | lines | input MB | peak RSS MB | vs first | predict s | examples/s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['lines']:,} | {r['input_mb']} | {r['peak_rss_mb']} | {r['rss_vs_first']:.2f}x | "
              f"{r['predict_seconds']} | {r['examples_per_s']} |")
    if a.json_out:
        a.json_out.parent.mkdir(parents=True, exist_ok=True)
        a.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

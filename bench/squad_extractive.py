"""Extractive QA on SQuAD v1.1 with MiniLM through ``ptrun qa``: exact match, F1 and time.

Only the SQuAD v1.1 dev file is available offline, so it is split by article: the questions of
the first articles train the model, and a fixed sample of questions from the remaining
articles evaluates it (no article is in both). The untrained model (a fresh span head) is
scored on the same questions as a baseline.

    python bench/squad_extractive.py --json-out bench/out/squad_extractive.json

Prints one JSON object, then a short table. Runs ``ptrun.run.pipeline.run`` in this process.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ner_conll import REPO_ROOT, default_model_dir  # noqa: E402


def split_squad(path: Path, train_questions: int, eval_questions: int, seed: int = 0) -> tuple[dict, dict, dict]:
    """(train, eval, info): whole leading articles until ``train_questions`` questions are
    reached (the last article is cut), and ``eval_questions`` sampled from the other articles."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    train, n_train, cut = [], 0, len(data)
    for i, article in enumerate(data):
        if n_train >= train_questions:
            cut = i
            break
        paragraphs = []
        for paragraph in article["paragraphs"]:
            qas = paragraph["qas"][: train_questions - n_train]
            if qas:
                paragraphs.append({"context": paragraph["context"], "qas": qas})
                n_train += len(qas)
        train.append({"title": article["title"], "paragraphs": paragraphs})
    rest = [(a, p, q) for a in range(cut, len(data)) for p, para in enumerate(data[a]["paragraphs"]) for q in range(len(para["qas"]))]
    if len(rest) < eval_questions:
        raise SystemExit(f"only {len(rest)} questions are left for evaluation; lower --train-questions or --eval-questions")
    picked = sorted(random.Random(seed).sample(rest, eval_questions))
    evaluation: dict[tuple[int, int], list] = {}
    for a, p, q in picked:
        evaluation.setdefault((a, p), []).append(data[a]["paragraphs"][p]["qas"][q])
    eval_articles: dict[int, dict] = {}
    for (a, p), qas in evaluation.items():
        article = eval_articles.setdefault(a, {"title": data[a]["title"], "paragraphs": []})
        article["paragraphs"].append({"context": data[a]["paragraphs"][p]["context"], "qas": qas})
    info = {"train_articles": len(train), "train_questions": n_train, "eval_articles": len(eval_articles),
            "eval_questions": len(picked)}
    return {"version": "1.1", "data": train}, {"version": "1.1", "data": list(eval_articles.values())}, info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--squad", default=str(REPO_ROOT.parent / "shared" / "datasets" / "squad_v1.1" / "dev-v1.1.json"))
    p.add_argument("--model", default=default_model_dir() or "minilm")
    p.add_argument("--train-questions", type=int, default=2000)
    p.add_argument("--eval-questions", type=int, default=500)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no-baseline", action="store_true", help="Skip scoring the untrained model.")
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "squad_extractive"))
    p.add_argument("--json-out")
    a = p.parse_args(argv)

    from ptrun.config import RunConfig
    from ptrun.run.pipeline import run

    out = Path(a.output_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    train, evaluation, info = split_squad(Path(a.squad), a.train_questions, a.eval_questions)
    (out / "data" / "train.json").write_text(json.dumps(train, indent=1), encoding="utf-8")
    (out / "data" / "eval.json").write_text(json.dumps(evaluation, indent=1), encoding="utf-8")
    common = dict(task="qa", model=a.model, validation=str(out / "data" / "eval.json"), batch_size=a.batch_size,
                  max_length=a.max_length, seed=a.seed, overwrite=True)

    rows = {}
    if not a.no_baseline:
        start = time.perf_counter()
        run(RunConfig(eval_only=True, output_dir=str(out / "untrained"), **common))
        m = json.loads((out / "untrained" / "metrics.json").read_text())["validation"]
        rows["untrained span head"] = {**m, "train_seconds": 0.0, "total_seconds": time.perf_counter() - start}
    start = time.perf_counter()
    run(RunConfig(train=str(out / "data" / "train.json"), epochs=a.epochs, lr=a.lr,
                  output_dir=str(out / "ptrun"), **common))
    metrics = json.loads((out / "ptrun" / "metrics.json").read_text())
    rows["ptrun qa (qa/extractive)"] = {**metrics["validation"], "train_seconds": metrics["train"]["train_runtime"],
                                        "total_seconds": time.perf_counter() - start,
                                        "train_features": metrics["train"]["train_sentences"]}
    result = {"settings": vars(a), "split": info, "rows": rows,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(result))
    print(f"\n{'':28} {'EM':>6} {'F1':>6} {'train s':>8} {'total s':>8}")
    for name, r in rows.items():
        print(f"{name:28} {100 * r['exact_match']:6.1f} {100 * r['f1']:6.1f} {r['train_seconds']:8.0f} {r['total_seconds']:8.0f}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

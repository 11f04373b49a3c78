"""Generative QA on SQuAD v1.1 with a causal LM through ``ptrun qa``: zero- and few-shot EM/F1.

Uses the article split of ``bench/squad_extractive.py`` (same seed, same defaults): the
questions are a seeded sample of its evaluation questions (articles no training question comes
from), and few-shot demonstrations are drawn from its training articles. So the rows compare
directly with the extractive MiniLM rows when ``--eval-questions`` is the same.

    python bench/squad_generative.py --json-out bench/out/squad_generative.json
    python bench/squad_generative.py --eval-questions 20 --settings zero-shot   # smoke run

Each setting is ``template[:shots][:chat|plain]``, for example ``qa/generative:0:chat``. Prints
one JSON object, then a short table. Runs ``ptrun.run.pipeline.run`` in this process.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ner_conll import REPO_ROOT  # noqa: E402
from squad_extractive import split_squad  # noqa: E402

DEFAULT_SETTINGS = "qa/generative:0:chat,qa/generative:2:chat"


def subsample(squad: dict, n: int, seed: int) -> dict:
    """``n`` of the questions in ``squad`` (seeded), keeping the article/paragraph structure."""
    where = [(a, p, q) for a, art in enumerate(squad["data"]) for p, para in enumerate(art["paragraphs"])
             for q in range(len(para["qas"]))]
    if n > len(where):
        raise SystemExit(f"--eval-questions {n}: the split has only {len(where)} evaluation questions")
    keep = set(random.Random(seed).sample(where, n))
    data = []
    for a, art in enumerate(squad["data"]):
        paragraphs = []
        for p, para in enumerate(art["paragraphs"]):
            qas = [qa for q, qa in enumerate(para["qas"]) if (a, p, q) in keep]
            if qas:
                paragraphs.append({"context": para["context"], "qas": qas})
        if paragraphs:
            data.append({"title": art["title"], "paragraphs": paragraphs})
    return {"version": "1.1", "data": data}


def parse_setting(text: str) -> dict:
    parts = text.split(":")
    template = parts[0]
    shots = int(parts[1]) if len(parts) > 1 else 0
    chat = (parts[2] if len(parts) > 2 else "chat") == "chat"
    return {"name": f"{template} {shots}-shot {'chat' if chat else 'plain'}", "template": template,
            "shots": shots, "chat": chat}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--squad", default=str(REPO_ROOT.parent / "shared" / "datasets" / "squad_v1.1" / "dev-v1.1.json"))
    p.add_argument("--model", default="smollm2")
    p.add_argument("--settings", default=DEFAULT_SETTINGS, help="comma-separated template:shots:chat|plain")
    p.add_argument("--train-questions", type=int, default=2000, help="as in squad_extractive.py (the split)")
    p.add_argument("--split-eval-questions", type=int, default=500, help="as in squad_extractive.py (the split)")
    p.add_argument("--eval-questions", type=int, default=200, help="sampled from the split's evaluation questions")
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "squad_generative"))
    p.add_argument("--json-out")
    a = p.parse_args(argv)

    from ptrun.config import RunConfig
    from ptrun.run.pipeline import run

    out = Path(a.output_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    train, evaluation, info = split_squad(Path(a.squad), a.train_questions, a.split_eval_questions)
    evaluation = subsample(evaluation, a.eval_questions, a.seed)
    (out / "data" / "train.json").write_text(json.dumps(train, indent=1), encoding="utf-8")
    (out / "data" / "eval.json").write_text(json.dumps(evaluation, indent=1), encoding="utf-8")
    info["sampled_eval_questions"] = a.eval_questions

    rows = {}
    for setting in map(parse_setting, a.settings.split(",")):
        folder = out / setting["name"].replace("/", "-").replace(" ", "_")
        start = time.perf_counter()
        run(RunConfig(task="qa", model=a.model, template=setting["template"], eval_only=True,
                      train=str(out / "data" / "train.json"), validation=str(out / "data" / "eval.json"),
                      shots=setting["shots"], chat=setting["chat"], max_new_tokens=a.max_new_tokens,
                      batch_size=a.batch_size, seed=a.seed, output_dir=str(folder), overwrite=True))
        m = json.loads((folder / "metrics.json").read_text())["validation"]
        answers = [json.loads(line) for line in (folder / "predictions" / "validation.jsonl").read_text().splitlines()]
        words = [len((r.get("prediction") or "").split()) for r in answers]
        rows[setting["name"]] = {**{k: m[k] for k in ("exact_match", "f1") if k in m},
                                 "unparseable": m.get("unparseable", 0),
                                 "mean_answer_words": sum(words) / max(1, len(words)),
                                 "wall_seconds": time.perf_counter() - start}
    result = {"settings": vars(a), "split": info, "rows": rows}
    print(json.dumps(result))
    print(f"\n{'':34} {'EM':>6} {'F1':>6} {'words':>6} {'wall s':>7}")
    for name, r in rows.items():
        print(f"{name:34} {100 * r['exact_match']:6.1f} {100 * r['f1']:6.1f} {r['mean_answer_words']:6.1f} "
              f"{r['wall_seconds']:7.0f}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

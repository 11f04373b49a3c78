"""SST-2 dev with SmolLM2 in one process: ptrun answer-choice scoring (zero-shot, calibrated,
other templates, 4-shot) and ptrun's batched generation against a naive generate-and-parse
baseline written with plain transformers. Accuracy, examples/s and the score/baseline ratio.

    python bench/sst2_prompting.py --threads 1 --json-out bench/out/sst2_prompting.json

The dev set is cut into ``--chunks`` parts and every row runs on part 1, then every row on part
2, and so on (the row order rotates per part), so each row sees the same share of whatever else
the machine was doing. Timing per row:

- ptrun rows: ``ptrun.run.pipeline.run(RunConfig(...))`` on the chunk file, in this process.
  ``run_s`` is the whole call; ``load_s`` is the model load inside it
  (``ptrun.backends.loading.load_causal`` from the converted cache, about 1 s); ``predict_s`` is
  ``CausalLMBackend.predict`` (fitting the prompts, tokenizing, forward passes, parsing).
  examples/s = n / (run_s - load_s): everything ptrun does for the examples (reading the data,
  rendering the templates, predicting, writing the run folder) except loading the model.
  Few-shot rows also read the 67k-row train file to draw their demonstrations (inside run_s);
  n / predict_s is reported as well.
- baseline: model and tokenizer loaded once before the loop (not timed); the timed loop covers,
  per example, building the prompt text, the tokenizer's chat template, tokenizing,
  ``model.generate(max_new_tokens=5, do_sample=False)`` with batch size 1, decoding and parsing.

The one-time GGUF conversion happens before anything is timed (``prepare_s`` in the JSON).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT.parent / "shared" / "datasets" / "sst2"

# The instruct template's text (templates/sentiment/instruct.j2), written out by hand for the
# baseline; checked against ptrun's rendering of the first example before timing.
SYSTEM = "You classify the sentiment of movie reviews."
USER = "Is the sentiment of the review positive or negative? Answer with one word.\n\nReview: {text}\nSentiment:"
WORDS = {"negative": 0, "positive": 1}


def read_tsv(path, limit=None):
    with open(path, encoding="utf-8", newline="") as f:
        rows = [(r["sentence"].strip(), int(r["label"])) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return rows[:limit] if limit else rows


def write_tsv(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("sentence\tlabel\n")
        for text, label in rows:
            f.write(f"{text}\t{label}\n")


# --------------------------------------------------------------------------- the naive baseline


class NaiveBaseline:
    """One example at a time: chat template, greedy generate, first word -> label."""

    def __init__(self, model_dir: Path, max_new_tokens: int):
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        transformers.logging.set_verbosity_error()
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
        self.max_new_tokens = max_new_tokens

    def prompt(self, text: str) -> str:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER.format(text=text)}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def __call__(self, text: str) -> tuple[int | None, str]:
        import torch

        enc = self.tokenizer(self.prompt(text), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.eos_token_id)
        answer = self.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        words = re.findall(r"[a-z]+", answer.lower())
        return (WORDS.get(words[0]) if words else None), answer

    def run(self, rows) -> dict:
        start = time.perf_counter()
        correct = unparsed = 0
        answers: dict = {}
        for text, label in rows:
            pred, answer = self(text)
            correct += pred == label
            unparsed += pred is None
            answers[answer.strip()] = answers.get(answer.strip(), 0) + 1
        return {"n": len(rows), "correct": int(correct), "unparseable": unparsed, "seconds": time.perf_counter() - start,
                "answers": answers}


# --------------------------------------------------------------------------- ptrun rows


class PtrunTimer:
    """Times loading.load_causal and CausalLMBackend.predict inside ptrun.run.pipeline.run()."""

    def __init__(self):
        from ptrun.backends import loading
        from ptrun.backends.causal_lm import CausalLMBackend

        self.load_s = self.predict_s = 0.0
        load, predict = loading.load_causal, CausalLMBackend.predict
        timer = self

        def timed_load(*args, **kwargs):
            t = time.perf_counter()
            try:
                return load(*args, **kwargs)
            finally:
                timer.load_s += time.perf_counter() - t

        def timed_predict(self, *args, **kwargs):
            t = time.perf_counter()
            try:
                return predict(self, *args, **kwargs)
            finally:
                timer.predict_s += time.perf_counter() - t

        # CausalLMBackend.load calls loading.load_causal through the module, so this is seen.
        loading.load_causal = timed_load
        CausalLMBackend.predict = timed_predict

    def reset(self):
        self.load_s = self.predict_s = 0.0


def ptrun_row(spec: dict, chunk_file: Path, out_dir: Path, a, timer: PtrunTimer) -> dict:
    from ptrun.config import RunConfig
    from ptrun.run.pipeline import run

    kwargs = dict(spec["config"])
    if kwargs.get("shots"):
        kwargs.update(train=str(Path(a.data_dir) / "train.tsv"), balanced_shots=True, seed=a.seed)
    cfg = RunConfig(task="sentiment", model="smollm2", eval_only=True, test=str(chunk_file), output_dir=str(out_dir),
                    overwrite=True, batch_size=a.batch_size, **kwargs)
    timer.reset()
    start = time.perf_counter()
    run(cfg)
    run_s = time.perf_counter() - start
    records = [json.loads(line) for line in (out_dir / "predictions" / "test.jsonl").read_text().splitlines()]
    metrics = json.loads((out_dir / "metrics.json").read_text())["test"]
    config = json.loads((out_dir / "config.json").read_text())
    return {
        "n": len(records),
        "correct": sum(r["prediction"] == r["reference"] for r in records),
        "unparseable": sum(r["prediction"] is None for r in records),
        "predicted_positive": sum(r["prediction"] == "positive" for r in records),
        "seconds": run_s - timer.load_s,
        "run_s": run_s,
        "load_s": timer.load_s,
        "predict_s": timer.predict_s,
        "content_free_probabilities": metrics.get("content_free_probabilities"),
        "demonstrations": config.get("demonstrations"),
    }


ROWS = {
    "score-instruct": {"label": "ptrun score, sentiment/instruct (the baseline's prompt)", "config": {"template": "sentiment/instruct", "inference": "score"}},
    "score-instruct-calibrated": {"label": "ptrun score, instruct, --calibrate", "config": {"template": "sentiment/instruct", "inference": "score", "calibrate": True}},
    "score-review": {"label": "ptrun score, sentiment/review (the default; plain text)", "config": {"template": "sentiment/review", "inference": "score"}},
    "score-review-nochat": {"label": "ptrun score, sentiment/review, --no-chat", "config": {"template": "sentiment/review", "inference": "score", "chat": False}},
    "score-cloze": {"label": "ptrun score, sentiment/cloze", "config": {"template": "sentiment/cloze", "inference": "score"}},
    "score-cloze-nochat": {"label": "ptrun score, sentiment/cloze, --no-chat", "config": {"template": "sentiment/cloze", "inference": "score", "chat": False}},
    "score-question": {"label": "ptrun score, sentiment/question", "config": {"template": "sentiment/question", "inference": "score"}},
    "baseline": {"label": "naive generate-and-parse (batch 1)", "config": None},
    "generate-instruct": {"label": "ptrun --inference generate (batched)", "config": {"template": "sentiment/instruct", "inference": "generate", "max_new_tokens": 5}},
    "score-instruct-4shot": {"label": "ptrun score, instruct, 4-shot", "config": {"template": "sentiment/instruct", "inference": "score", "shots": 4}},
    "score-review-4shot": {"label": "ptrun score, review, 4-shot", "config": {"template": "sentiment/review", "inference": "score", "shots": 4}},
    "score-instruct-4shot-calibrated": {"label": "ptrun score, instruct, 4-shot, --calibrate", "config": {"template": "sentiment/instruct", "inference": "score", "shots": 4, "calibrate": True}},
}
DEFAULT_ROWS = "score-instruct,baseline,generate-instruct,score-instruct-calibrated,score-review-nochat,score-instruct-4shot"


def check_baseline_prompt(baseline: NaiveBaseline, first_text: str, chunk_file: Path) -> bool:
    """The baseline's prompt text equals ptrun's (instruct template, chat layout) for example 1."""
    from ptrun import registry
    from ptrun.backends.layout import Layout
    from ptrun.prompts.render import Renderer, check_prompt_for_task
    from ptrun.prompts.templates import load_prompt
    from ptrun.run.setup import build_label_map

    task = registry.get_task("sentiment")
    prompt = load_prompt("sentiment/instruct", [])
    check_prompt_for_task(prompt, task)
    examples = task.read(chunk_file)[:1]
    label_map = build_label_map(task, prompt, {"test": examples})
    rendered = Renderer(task, prompt, label_map).render_all(examples)[0]
    rendered.target = None
    messages = task.lm_messages(examples[0], rendered, True)
    layout = Layout(chat=True)
    text = "".join(t for t, _ in layout.segments(baseline.tokenizer, messages))
    return text == baseline.prompt(first_text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(DATA_DIR))
    p.add_argument("--limit", type=int, help="first N dev examples (default: all 872)")
    p.add_argument("--chunks", type=int, default=4, help="interleave the rows over this many parts of the dev set")
    p.add_argument("--rows", default=DEFAULT_ROWS, help=f"comma-separated, from: {', '.join(ROWS)}")
    p.add_argument("--batch-size", type=int, default=16, help="ptrun's batch size (the baseline is batch 1)")
    p.add_argument("--max-new-tokens", type=int, default=5)
    p.add_argument("--seed", type=int, default=42, help="draws the few-shot demonstrations")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "sst2_prompting"))
    p.add_argument("--json-out")
    a = p.parse_args(argv)
    rows = [r.strip() for r in a.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; known: {', '.join(ROWS)}")

    import torch
    import transformers

    if a.threads:
        torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    from ptrun import models

    out = Path(a.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    model_dir = models.resolve("smollm2").path  # converts the GGUF on a first use (not timed below)
    prepare_s = time.perf_counter() - start

    dev = read_tsv(Path(a.data_dir) / "dev.tsv", a.limit)
    n_chunks = max(1, min(a.chunks, len(dev)))
    bounds = [round(i * len(dev) / n_chunks) for i in range(n_chunks + 1)]
    chunks = [dev[bounds[i]:bounds[i + 1]] for i in range(n_chunks)]
    chunk_files = []
    for i, chunk in enumerate(chunks):
        chunk_files.append(out / "chunks" / f"dev-{i + 1}.tsv")
        write_tsv(chunk_files[-1], chunk)

    baseline = None
    baseline_load_s = None
    if "baseline" in rows:
        t = time.perf_counter()
        baseline = NaiveBaseline(model_dir, a.max_new_tokens)
        baseline_load_s = time.perf_counter() - t
        if not check_baseline_prompt(baseline, chunks[0][0][0], chunk_files[0]):
            raise SystemExit("the baseline's prompt differs from ptrun's instruct prompt; fix SYSTEM/USER")
    timer = PtrunTimer()

    totals = {r: {"n": 0, "correct": 0, "unparseable": 0, "seconds": 0.0, "run_s": 0.0, "load_s": 0.0,
                  "predict_s": 0.0, "predicted_positive": 0, "parts": []} for r in rows}
    load_before = os.getloadavg()
    for i, (chunk, chunk_file) in enumerate(zip(chunks, chunk_files)):
        order = rows[i % len(rows):] + rows[: i % len(rows)]
        for name in order:
            if name == "baseline":
                part = baseline.run(chunk)
            else:
                part = ptrun_row(ROWS[name], chunk_file, out / "runs" / name / f"part-{i + 1}", a, timer)
            t = totals[name]
            for key in ("n", "correct", "unparseable", "seconds", "run_s", "load_s", "predict_s", "predicted_positive"):
                if key in part:
                    t[key] += part[key]
            t["parts"].append(part)
            print(f"part {i + 1}/{n_chunks} {name}: {part['correct']}/{part['n']} in {part['seconds']:.1f} s "
                  f"(load avg {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)

    result_rows = {}
    for name in rows:
        t = totals[name]
        row = {"label": ROWS[name]["label"], "n": t["n"], "accuracy": t["correct"] / t["n"],
               "examples_per_s": t["n"] / t["seconds"], "seconds": t["seconds"], "unparseable": t["unparseable"],
               "seconds_per_part": [round(p["seconds"], 2) for p in t["parts"]]}
        if name != "baseline":
            row.update(run_s=t["run_s"], load_s=t["load_s"], predict_s=t["predict_s"],
                       predict_examples_per_s=t["n"] / t["predict_s"], predicted_positive=t["predicted_positive"],
                       content_free_probabilities=t["parts"][0]["content_free_probabilities"],
                       demonstrations=t["parts"][0]["demonstrations"])
        else:
            answers: dict = {}
            for part in t["parts"]:
                for k, v in part["answers"].items():
                    answers[k] = answers.get(k, 0) + v
            row["answers"] = dict(sorted(answers.items(), key=lambda kv: -kv[1])[:10])
        result_rows[name] = row
    ratios = {}
    if "baseline" in result_rows:
        base = result_rows["baseline"]
        for name, row in result_rows.items():
            if name != "baseline":
                ratios[name] = {"speed_vs_baseline": row["examples_per_s"] / base["examples_per_s"],
                                "accuracy_delta_points": 100 * (row["accuracy"] - base["accuracy"])}
    result = {
        "settings": vars(a),
        "n_dev": len(dev),
        "prepare_s": prepare_s,
        "baseline_load_s": baseline_load_s,
        "model_dir": str(model_dir),
        "torch_threads": torch.get_num_threads(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "rows": result_rows,
        "vs_baseline": ratios,
    }
    if "score-instruct" in ratios:
        r = ratios["score-instruct"]
        result["targets"] = {"score_3x_baseline_throughput": r["speed_vs_baseline"] >= 3.0,
                             "score_at_least_as_accurate": r["accuracy_delta_points"] >= 0}
    print(json.dumps(result, indent=2))
    print(f"\nSST-2 dev ({len(dev)} examples), SmolLM2-135M-Instruct, {torch.get_num_threads()} torch thread(s)")
    print(f"{'':44} {'accuracy':>8} {'ex/s':>7} {'vs base':>8}")
    for name, row in result_rows.items():
        ratio = f"{ratios[name]['speed_vs_baseline']:7.2f}x" if name in ratios else f"{'':8}"
        print(f"{row['label']:44} {row['accuracy']:8.4f} {row['examples_per_s']:7.2f} {ratio}")
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

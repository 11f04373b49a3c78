"""Throughput and latency of ``ptrun serve`` against a plainly written FastAPI peer (issue 10, item 8).

    python bench/serve.py --models minilm,smollm2 --concurrency 1,4,16,64 --requests 200 \
        --json-out bench/out/serve.json

For each model, two servers run in child processes on free loopback ports, one at a time:

* ``ptrun serve MODEL --task sentiment`` (its defaults: dynamic batching, ``--max-batch-size 32``,
  ``--max-wait-ms 5``), and
* the peer: this file with ``--peer``, a FastAPI app that answers each request with one forward
  pass of its own (no batching across requests), the way a model is usually put behind FastAPI.

``minilm``: MiniLM-L6 sentiment classification on ``/v1/predict``, raw text (``--template none``;
the head is untrained in both servers, which costs the same as a trained one). ``smollm2``:
SmolLM2-135M zero-shot scoring of the two answer choices after the sentiment/review prompt
("Review: ...\\nSentiment:" then " negative" / " positive"); the peer runs both choices as one
padded batch of two rows. Both servers read the same weights folder and return the same label.

The load generator is httpx's async client: ``--requests`` requests (one SST-2 dev sentence each)
from C concurrent clients, at each C of ``--concurrency``, after a warm-up. It prints a table of
throughput (requests/s) and p50/p99 latency, and the JSON of every measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SST2_DEV = REPO_ROOT.parent / "shared" / "datasets" / "sst2" / "dev.tsv"
PROMPT = "Review: {text}\nSentiment:"
CHOICES = (" negative", " positive")


# -- the peer -------------------------------------------------------------------------------
def peer_app(model_dir: str, kind: str):
    """A FastAPI app answering /v1/predict with one forward pass per request."""
    import torch
    from fastapi import FastAPI
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    labels = ["negative", "positive"]
    if kind == "encoder":
        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2).eval()
    else:
        model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
    app = FastAPI()

    @app.get("/ready")
    def ready():
        return {"status": "ready"}

    @app.post("/v1/predict")
    def predict(body: dict):  # a plain def: FastAPI runs it in its thread pool
        text = body["inputs"][0]["text"]
        with torch.inference_mode():
            if kind == "encoder":
                enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=256)
                probs = torch.softmax(model(**enc).logits[0], -1)
                scores = probs.log()
            else:
                prompt = PROMPT.format(text=text)
                n_prompt = len(tokenizer(prompt)["input_ids"])
                rows = [tokenizer(prompt + c)["input_ids"] for c in CHOICES]
                width = max(map(len, rows))
                ids = torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])
                mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
                logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
                sums = [float(sum(logp[i, j - 1, r[j]] for j in range(n_prompt, len(r)))) for i, r in enumerate(rows)]
                scores = torch.log_softmax(torch.tensor(sums), -1)
        best = int(scores.argmax())
        return {"predictions": [{"text": text, "prediction": labels[best],
                                 "scores": {l: round(float(s), 4) for l, s in zip(labels, scores)}}]}

    return app


# -- servers --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_dir(alias: str) -> str:
    from ptrun import models

    return str(models.resolve(alias).path)


def start(which: str, alias: str, log: Path, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    kind = "encoder" if alias == "minilm" else "causal-lm"
    if which == "ptrun":
        args = [sys.executable, "-m", "ptrun.cli", "serve", alias, "--task", "sentiment", "--port", str(port),
                "--log-level", "warning", "--device", "cpu"]
        if kind == "encoder":
            args += ["--template", "none"]
    else:
        args = [sys.executable, __file__, "--peer", model_dir(alias), "--kind", kind, "--port", str(port)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    proc = subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{which} server for {alias} exited:\n{log.read_text()}")
        try:
            if httpx.get(url + "/ready", timeout=5).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"{which} server for {alias} not ready after 600 s")


async def load(url: str, texts: list[str], n: int, concurrency: int) -> dict:
    """``n`` requests from ``concurrency`` clients; latency of each, wall time of all."""
    import httpx

    latencies: list[float] = []
    answers: dict[int, str] = {}
    failures = 0
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def worker():
            nonlocal failures
            for i in counter:
                body = {"inputs": [{"text": texts[i % len(texts)]}]}
                t0 = time.perf_counter()
                r = await client.post("/v1/predict", json=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    failures += 1
                else:
                    answers[i % len(texts)] = r.json()["predictions"][0]["prediction"]

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"requests": n, "concurrency": concurrency, "failures": failures, "seconds": round(wall, 3),
            "throughput": round(n / wall, 2), "p50_ms": round(pct(0.50), 1), "p99_ms": round(pct(0.99), 1),
            "answers": answers}


def model_ceiling(texts: list[str], threads: int, batch: int = 16, n: int = 256) -> dict:
    """What batching can save at best for MiniLM: seconds per sentence of the bare model (no HTTP,
    no ptrun) one sentence per forward pass against length-sorted batches of ``batch``. A server
    that batches cannot beat per-request forwards by more than this ratio on the same cores."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(threads)
    path = model_dir("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    sample = texts[:n]

    def timed(groups) -> float:
        with torch.inference_mode():
            for group in groups[:4]:  # warm-up
                model(**tokenizer(group, return_tensors="pt", padding=True))
            start = time.perf_counter()
            for group in groups:
                model(**tokenizer(group, return_tensors="pt", padding=True))
        return (time.perf_counter() - start) / len(sample)

    single = timed([[t] for t in sample])
    ordered = sorted(sample, key=lambda t: len(tokenizer(t)["input_ids"]))
    batched = timed([ordered[i:i + batch] for i in range(0, len(ordered), batch)])
    return {"threads": threads, "batch": batch, "sentences": len(sample), "ms_per_sentence_single": round(single * 1000, 2),
            "ms_per_sentence_batched": round(batched * 1000, 2), "ceiling": round(single / batched, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="minilm,smollm2")
    ap.add_argument("--concurrency", default="1,4,16,64")
    ap.add_argument("--requests", type=int, default=200, help="requests per measurement")
    ap.add_argument("--threads", type=int, default=1,
                    help="OMP_NUM_THREADS of each server (on a shared machine, more than 1 thread oversubscribes the cores)")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument("--ceiling", action="store_true",
                    help="only measure the bare MiniLM forward pass, per sentence and in batches of 16 (what batching can save at best)")
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        import uvicorn

        uvicorn.run(peer_app(args.peer, args.kind), host="127.0.0.1", port=args.port, log_level="warning")
        return
    texts = [line.split("\t")[0].strip() for line in SST2_DEV.read_text(encoding="utf-8").splitlines()[1:]]
    if args.ceiling:
        for threads in sorted({1, args.threads}):
            print(json.dumps(model_ceiling(texts, threads)), flush=True)
        return
    levels = [int(c) for c in args.concurrency.split(",")]
    out_dir = Path(args.json_out).parent if args.json_out else Path("bench/out")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for alias in args.models.split(","):
        agree = {}
        for which in ("ptrun", "peer"):
            proc, url = start(which, alias, out_dir / f"serve-{alias}-{which}.log", args.threads)
            try:
                asyncio.run(load(url, texts, 16, 4))  # warm-up
                for c in levels:
                    m = asyncio.run(load(url, texts, args.requests, c))
                    agree.setdefault(which, {}).update(m.pop("answers"))
                    rows.append({"model": alias, "server": which, **m})
                    print(json.dumps(rows[-1]), flush=True)
            finally:
                proc.terminate()
                proc.wait(60)
        same = sum(agree["ptrun"][i] == agree["peer"].get(i) for i in agree["ptrun"])
        print(f"{alias}: ptrun and the peer agree on {same}/{len(agree['ptrun'])} labels", flush=True)
        rows.append({"model": alias, "labels_agree": same, "labels_compared": len(agree["ptrun"])})
    print("\n| model | C | ptrun req/s | peer req/s | ratio | ptrun p50/p99 ms | peer p50/p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for alias in args.models.split(","):
        for c in levels:
            p, q = ([r for r in rows if r.get("server") == s and r["model"] == alias and r["concurrency"] == c][0]
                    for s in ("ptrun", "peer"))
            print(f"| {alias} | {c} | {p['throughput']} | {q['throughput']} | {p['throughput'] / q['throughput']:.2f}x "
                  f"| {p['p50_ms']} / {p['p99_ms']} | {q['p50_ms']} / {q['p99_ms']} |")
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Load time of the `smollm2` alias: first load (GGUF converted into a fresh PTRUN_CACHE, then
loaded), second load (from that cache), and plain `from_pretrained(dir, gguf_file=...)` for
reference.

    python bench/model_load.py --repeats 2 --json-out bench/out/model_load.json

Every measurement runs in a fresh child process (so nothing is reused in memory), in the order
first, then `--repeats` rounds of (second, gguf) interleaved. Each child reports:

- ``import_s``: importing torch, transformers and ptrun, and ``model_imports_s``: transformers'
  lazily imported Llama and tokenizer classes (neither is part of the load figures; a fresh
  ``ptrun`` process pays both before its first load);
- ``resolve_s``: ``ptrun.models.resolve("smollm2")``: finding the GGUF file, hashing it
  (SHA-256, the cache key) and, on the first load only, converting and saving it;
- ``load_s``: ``ptrun.backends.loading.load_causal`` (model + tokenizer from the converted folder);
- ``total_s``: resolve + load, i.e. what ``ptrun`` spends before its first forward pass.

The ``gguf`` child times ``AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)`` plus the
tokenizer the same way (de-quantizing the GGUF on every load; what a user without ptrun's cache
pays each time). The OS page cache is warm for every child after the first: these are warm-disk
numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def child(kind: str) -> dict:
    start = time.perf_counter()
    import torch  # noqa: F401
    import transformers

    from ptrun import models
    from ptrun.backends.loading import load_causal

    transformers.logging.set_verbosity_error()
    out = {"kind": kind, "import_s": time.perf_counter() - start, "ptrun_cache": os.environ.get("PTRUN_CACHE")}
    # transformers imports model and tokenizer classes lazily, on first use; timed apart so that
    # load_s is reading the weights and building the model.
    start = time.perf_counter()
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: F401
    from transformers.models.llama import modeling_llama  # noqa: F401

    out["model_imports_s"] = time.perf_counter() - start
    if kind in ("first", "second"):
        t = time.perf_counter()
        resolved = models.resolve("smollm2")
        out["resolve_s"] = time.perf_counter() - t
        t = time.perf_counter()
        model, tokenizer = load_causal(resolved.path)
        out["load_s"] = time.perf_counter() - t
        out["total_s"] = out["resolve_s"] + out["load_s"]
        out["path"] = str(resolved.path)
    else:
        import warnings

        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ptrun.plugins.builtin import smollm2_gguf

        gguf = smollm2_gguf()
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        out["load_s"] = out["total_s"] = time.perf_counter() - t
        out["path"] = str(gguf)
    out["parameters"] = sum(p.numel() for p in model.parameters())
    out["vocab"] = len(tokenizer)
    return out


def run_child(kind: str, cache: Path) -> dict:
    env = dict(os.environ, PTRUN_CACHE=str(cache))
    proc = subprocess.run([sys.executable, __file__, "--child", kind], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=2, help="rounds of (second load, plain GGUF load)")
    p.add_argument("--cache", help="PTRUN_CACHE for the measurement (default: a fresh temporary folder, removed after)")
    p.add_argument("--json-out")
    p.add_argument("--child", choices=("first", "second", "gguf"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child)))
        return

    with tempfile.TemporaryDirectory(prefix="ptrun-load-") as tmp:
        cache = Path(a.cache) if a.cache else Path(tmp)
        if any(cache.glob("models/*/config.json")):
            raise SystemExit(f"{cache} already holds a converted model; the first load needs an empty cache.")
        load_before = os.getloadavg()
        rows = [run_child("first", cache)]
        for _ in range(a.repeats):
            rows.append(run_child("second", cache))
            rows.append(run_child("gguf", cache))
        converted = sorted(str(d.name) for d in (cache / "models").iterdir())
        size_mb = sum(f.stat().st_size for f in (cache / "models").rglob("*") if f.is_file()) / 2**20

    def summary(kind, key):
        values = [r[key] for r in rows if r["kind"] == kind]
        return {"min": min(values), "mean": sum(values) / len(values), "n": len(values)}

    result = {
        "rows": rows,
        "summary": {
            "first_load_total_s": rows[0]["total_s"],
            "first_load_resolve_s": rows[0]["resolve_s"],
            "second_load_total_s": summary("second", "total_s"),
            "second_load_resolve_s": summary("second", "resolve_s"),
            "second_load_model_s": summary("second", "load_s"),
            "plain_gguf_from_pretrained_s": summary("gguf", "total_s"),
            "import_s": summary("second", "import_s"),
            "model_imports_s": summary("second", "model_imports_s"),
        },
        "converted": converted,
        "converted_mb": round(size_mb, 1),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    s = result["summary"]
    print(f"\n{'smollm2 load (fresh process each)':42} {'seconds':>9}")
    print(f"{'first load (hash + convert + save + load)':42} {s['first_load_total_s']:9.1f}")
    print(f"{'  of which resolve (hash, convert, save)':42} {s['first_load_resolve_s']:9.1f}")
    print(f"{'second load (hash + load from cache), mean':42} {s['second_load_total_s']['mean']:9.1f}")
    print(f"{'  of which resolve (SHA-256 of the GGUF)':42} {s['second_load_resolve_s']['mean']:9.1f}")
    print(f"{'plain from_pretrained(gguf_file=), mean':42} {s['plain_gguf_from_pretrained_s']['mean']:9.1f}")
    print(f"{'(import torch+transformers+ptrun), mean':42} {s['import_s']['mean']:9.1f}")
    print(f"{'(lazy import of the Llama classes), mean':42} {s['model_imports_s']['mean']:9.1f}")
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

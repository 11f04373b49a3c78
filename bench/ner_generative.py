"""Generative NER on CoNLL-2003 with a causal LM: zero-shot, few-shot and fine-tuned.

Each setting is one ``ptrun ner`` run in its own subprocess (model SmolLM2-135M-Instruct by
default, template ``ner/generative``), evaluated on the same first ``--limit-eval`` test
sentences. The entity lists the model writes are mapped back onto the tokens and scored with
seqeval; the table also shows what the parser dropped (entities whose text is not in the
sentence, unknown types, malformed lines) and how many generations were empty.

Run from the repository root (defaults: 200 test sentences, zero-shot and 4-shot with
demonstrations drawn from the first 500 train sentences, then LoRA on those 500 for 1 epoch)::

    python bench/ner_generative.py --json-out bench/out/ner_generative.json

A quick smoke run::

    python bench/ner_generative.py --limit-eval 10 --settings zero-shot

The result is a JSON object on stdout (one row per setting) followed by a short table. Child
logs go to ``<output-dir>/<setting>.log``; a failed setting is reported with the tail of its log
and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# `ptrun` in a child process, run by the given interpreter. ptrun.cli is a package without a
# __main__ module, so `python -m ptrun.cli` cannot start it; this calls the console script's
# entry point (ptrun.cli:main, which reads sys.argv) instead.
PTRUN_CLI = ["-c", "from ptrun.cli import main; main()"]
SETTINGS = ("zero-shot", "few-shot", "fine-tune")
COUNTS = ("predicted_entities", "invented_entities", "unknown_types", "malformed_lines", "overlapping_entities",
          "empty_generations")


def run_child(cmd: list[str], log_path: Path) -> dict:
    """Run ``cmd`` with output to ``log_path``; return exit code, wall time and the child's own peak RSS."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"returncode": proc.returncode, "wall_seconds": time.perf_counter() - start,
            "peak_rss_mb": rusage.ru_maxrss / 1024}


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<could not read {path}: {exc}>"


def command(a: argparse.Namespace, setting: str, files: dict[str, str], out: Path) -> list[str]:
    cmd = [a.python, *PTRUN_CLI, "ner", "--model", a.model, "--train", files["train"],
           "--test", files["test"], "--limit-train", str(a.limit_train), "--limit-eval", str(a.limit_eval),
           "--batch-size", str(a.batch_size), "--max-new-tokens", str(a.max_new_tokens), "--seed", str(a.seed),
           "--chat" if a.chat else "--no-chat", "--output-dir", str(out), "--overwrite"]
    if setting == "fine-tune":
        cmd += ["--template", a.finetune_template, "--method", a.method, "--epochs", f"{a.epochs:g}"]
        if a.lr is not None:
            cmd += ["--lr", str(a.lr)]
    else:
        cmd += ["--template", a.template, "--eval-only"]
        if setting == "few-shot":
            cmd += ["--shots", str(a.shots)]
    return cmd


def run_setting(a: argparse.Namespace, setting: str, files: dict[str, str], out_dir: Path) -> dict:
    out = out_dir / setting
    log_path = out_dir / f"{setting}.log"
    cmd = command(a, setting, files, out)
    print(f"[ner_generative] {setting}: {shlex.join(cmd)}", file=sys.stderr, flush=True)
    metrics_path = out / "metrics.json"
    metrics_path.unlink(missing_ok=True)  # never report a stale result
    proc = run_child(cmd, log_path)
    row: dict = {"setting": setting, "ok": False, "command": shlex.join(cmd), "log": str(log_path), **proc}
    if proc["returncode"] != 0 or not metrics_path.exists():
        row["error"] = f"exit code {proc['returncode']}" if proc["returncode"] else f"no {metrics_path}"
        print(f"[ner_generative] {setting} failed ({row['error']}); last lines of {log_path}:\n{log_tail(log_path)}",
              file=sys.stderr, flush=True)
        return row
    metrics = json.loads(metrics_path.read_text())
    test, train = metrics.get("test", {}), metrics.get("train", {})
    row.update(ok=True, f1=test.get("f1"), precision=test.get("precision"), recall=test.get("recall"),
               sentences=a.limit_eval, shots=test.get("shots", 0), chat_format=test.get("chat_format"),
               train_runtime=train.get("train_runtime"), train_sentences=train.get("train_sentences"),
               **{k: test.get(k) for k in COUNTS},
               per_type={k: round(v["f1"], 4) for k, v in test.get("per_type_report", {}).items()})
    print(f"[ner_generative] {setting} done in {proc['wall_seconds']:.0f}s, F1 {row['f1']:.4f}",
          file=sys.stderr, flush=True)
    return row


def fmt(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) else "-"


def table(rows: list[dict]) -> str:
    header = (f"{'setting':<10} {'F1':>6} {'P':>6} {'R':>6} {'entities':>8} {'invented':>8} {'unk.type':>8} "
              f"{'malformed':>9} {'empty':>5} {'wall s':>7}  status")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['setting']:<10} {fmt(r.get('f1'), '.4f'):>6} {fmt(r.get('precision'), '.4f'):>6} "
            f"{fmt(r.get('recall'), '.4f'):>6} {fmt(r.get('predicted_entities'), 'd'):>8} "
            f"{fmt(r.get('invented_entities'), 'd'):>8} {fmt(r.get('unknown_types'), 'd'):>8} "
            f"{fmt(r.get('malformed_lines'), 'd'):>9} {fmt(r.get('empty_generations'), 'd'):>5} "
            f"{fmt(r.get('wall_seconds'), '.0f'):>7}  {'ok' if r.get('ok') else r.get('error')}"
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(REPO_ROOT.parent / "shared" / "datasets" / "conll2003"),
                   help="folder with train.txt and test.txt")
    p.add_argument("--model", default="smollm2", help="causal LM: alias, folder or .gguf file")
    p.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated subset of {', '.join(SETTINGS)}")
    p.add_argument("--limit-eval", type=int, default=200, help="first N test sentences")
    p.add_argument("--limit-train", type=int, default=500,
                   help="first N train sentences: the demonstration pool and the fine-tuning data")
    p.add_argument("--shots", type=int, default=4, help="demonstrations for the few-shot setting")
    p.add_argument("--template", default="ner/generative", help="template of the prompted settings")
    p.add_argument("--finetune-template", default="ner/generative",
                   help="template to fine-tune with (ner/generative-short trains on fewer tokens)")
    p.add_argument("--method", default="lora", help="fine-tuning method (full, lora, ...)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=None, help="default: ptrun's for the method")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--chat", action=argparse.BooleanOptionalAction, default=True,
                   help="chat layout (the model's chat template) or plain text")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--python", default=sys.executable, help="interpreter for the children")
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "ner_generative"))
    p.add_argument("--json-out", default=None)
    a = p.parse_args(argv)
    a.settings = [s.strip() for s in a.settings.split(",") if s.strip()]
    unknown = [s for s in a.settings if s not in SETTINGS]
    if unknown:
        p.error(f"unknown setting(s) {unknown}; choose from {', '.join(SETTINGS)}")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    data_dir = Path(a.data_dir).resolve()
    files = {split: str(data_dir / f"{split}.txt") for split in ("train", "test")}
    missing = [f for f in files.values() if not Path(f).exists()]
    if missing:
        sys.exit(f"missing data files: {missing}")
    out_dir = Path(a.output_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # Sequential on purpose: concurrent runs would share the CPU cores and skew the timings.
    rows = [run_setting(a, s, files, out_dir) for s in a.settings]
    settings = {k: getattr(a, k) for k in ("model", "limit_eval", "limit_train", "shots", "template",
                                           "finetune_template", "method", "epochs", "lr", "batch_size",
                                           "max_new_tokens", "chat", "seed")}
    settings["data_dir"] = str(data_dir)
    result = {"settings": settings, "rows": rows}
    print(json.dumps(result))
    print()
    print(table(rows))
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

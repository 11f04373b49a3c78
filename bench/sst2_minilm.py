"""SST-2 with MiniLM on a train subset: ptrun (default template, and the no-prompt ablation)
against the Trainer sequence-classification peer, dev accuracy, throughput and peak RSS.

    python bench/sst2_minilm.py --limit-train 2000 --epochs 3 --json-out bench/out/sst2.json

Each side runs in its own subprocess (peak RSS per child via os.wait4).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ner_conll import PTRUN_CLI, REPO_ROOT, default_model_dir, run_child  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(REPO_ROOT.parent / "shared" / "datasets" / "sst2"))
    p.add_argument("--model", default=default_model_dir())
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--limit-train", type=int, default=2000)
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "sst2"))
    p.add_argument("--json-out")
    a = p.parse_args(argv)
    out = Path(a.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, dev = Path(a.data_dir) / "train.tsv", Path(a.data_dir) / "dev.tsv"
    common = ["--epochs", f"{a.epochs:g}", "--lr", str(a.lr), "--batch-size", str(a.batch_size),
              "--seed", str(a.seed), "--limit-train", str(a.limit_train)]
    rows = {}
    child = run_child([sys.executable, str(Path(__file__).parent / "peer_trainer_cls.py"), "--train", str(train),
                       "--validation", str(dev), "--model", a.model, "--output-dir", str(out / "peer"), *common],
                      out / "peer.log")
    m = json.loads((out / "peer" / "peer_metrics.json").read_text())
    rows["peer (Trainer, raw text)"] = {"accuracy": m["validation"]["accuracy"],
                                        "train_samples_per_second": m["train"]["train_samples_per_second"],
                                        "peak_rss_mb": child["peak_rss_mb"]}
    for template in ("sentiment/review", "none"):
        run_dir = out / ("ptrun-" + template.replace("/", "-"))
        child = run_child([sys.executable, *PTRUN_CLI, "sentiment", "--train", str(train), "--validation",
                           str(dev), "--model", a.model, "--template", template, "--output-dir", str(run_dir),
                           "--overwrite", *common], out / f"ptrun-{template.replace('/', '-')}.log")
        if child["returncode"] != 0:
            raise SystemExit(f"ptrun failed, see {out}/ptrun-*.log")
        m = json.loads((run_dir / "metrics.json").read_text())
        rows[f"ptrun --template {template}"] = {"accuracy": m["validation"]["accuracy"],
                                               "train_samples_per_second": m["train"]["train_samples_per_second"],
                                               "peak_rss_mb": child["peak_rss_mb"]}
    result = {"settings": vars(a), "rows": rows}
    print(json.dumps(result, indent=2))
    print(f"\n{'':32} {'dev acc':>8} {'train ex/s':>11} {'peak RSS MB':>12}")
    for name, r in rows.items():
        print(f"{name:32} {r['accuracy']:8.4f} {r['train_samples_per_second']:11.1f} {r['peak_rss_mb']:12.0f}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Peer baseline for SST-2: the standard transformers Trainer sequence-classification recipe.

As in transformers' examples/pytorch/text-classification/run_glue.py (without `datasets`):
tokenize the raw sentence with truncation, dynamic padding (DataCollatorWithPadding),
AutoModelForSequenceClassification, Trainer with linear schedule, no warmup, no weight decay.

    python bench/peer_trainer_cls.py --train TRAIN.tsv --validation DEV.tsv --model DIR \
        --epochs 3 --lr 5e-5 --batch-size 16 --limit-train 2000 --output-dir OUT

Writes OUT/peer_metrics.json: {"validation": {"accuracy"}, "train": {...}, "peak_rss_mb"}.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import time
from pathlib import Path


def read_tsv(path, limit=None):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = [(r["sentence"].strip(), int(r["label"])) for r in rows]
    return rows[:limit] if limit else rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--validation", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--limit-train", type=int)
    p.add_argument("--limit-eval", type=int)
    p.add_argument("--output-dir", required=True)
    a = p.parse_args()

    import numpy as np
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              Trainer, TrainingArguments, set_seed)

    set_seed(a.seed)
    train, dev = read_tsv(a.train, a.limit_train), read_tsv(a.validation, a.limit_eval)
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=2)

    def encode(rows):
        enc = tok([t for t, _ in rows], truncation=True, max_length=a.max_length)
        return [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                 "token_type_ids": enc["token_type_ids"][i], "labels": y} for i, (_, y) in enumerate(rows)]

    args = TrainingArguments(output_dir=str(Path(a.output_dir) / "tmp"), num_train_epochs=a.epochs,
                             learning_rate=a.lr, per_device_train_batch_size=a.batch_size,
                             per_device_eval_batch_size=64, seed=a.seed, save_strategy="no",
                             eval_strategy="no", report_to="none", logging_steps=200, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=encode(train), data_collator=DataCollatorWithPadding(tok),
                      processing_class=tok)
    start = time.perf_counter()
    result = trainer.train()
    runtime = time.perf_counter() - start
    logits = trainer.predict(encode(dev)).predictions
    accuracy = float((np.argmax(logits, -1) == np.array([y for _, y in dev])).mean())
    out = {
        "validation": {"accuracy": accuracy},
        "train": {"train_runtime": runtime, "train_sentences": len(train), "epochs": a.epochs,
                  "train_samples_per_second": len(train) * a.epochs / runtime, "train_loss": result.training_loss},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    Path(a.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(a.output_dir) / "peer_metrics.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Peer baseline: the standard Hugging Face ``Trainer`` token-classification recipe.

This follows transformers' ``examples/pytorch/token-classification/run_ner.py``
(label only the first sub-token of each word, ``DataCollatorForTokenClassification``,
``AutoModelForTokenClassification``, ``Trainer`` with run_ner's optimiser/scheduler
defaults, seqeval micro scores in default mode), but reads CoNLL files directly
instead of going through the ``datasets`` library.  It exists so that ``ptrun ner``
can be compared against the recipe most users would otherwise write.

Run (from the repository root)::

    python bench/peer_trainer_ner.py \\
        --train ../shared/datasets/conll2003/train.txt \\
        --validation ../shared/datasets/conll2003/dev.txt \\
        --test ../shared/datasets/conll2003/test.txt \\
        --model /path/to/model_dir --epochs 3 --lr 1e-4 --batch-size 16 \\
        --max-length 128 --seed 42 --output-dir bench/out/peer

Use ``--limit-train N`` / ``--limit-eval N`` to keep only the first N sentences
(``--limit-eval`` applies to validation and test).  The metrics are printed as
JSON and written to ``<output-dir>/peer_metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
    set_seed,
)

IGNORE_INDEX = -100


def read_conll(path: str | Path, limit: int | None = None) -> list[tuple[list[str], list[str]]]:
    """Read a CoNLL file into (tokens, tags) sentences: token first column, tag last column."""
    sentences: list[tuple[list[str], list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        nonlocal tokens, tags
        if tokens:
            sentences.append((tokens, tags))
        tokens, tags = [], []

    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                flush()
            elif line.startswith("-DOCSTART-"):
                flush()
            else:
                cols = line.split()
                tokens.append(cols[0])
                tags.append(cols[-1])
            if limit is not None and len(sentences) >= limit:
                break
    flush()
    return sentences[:limit] if limit is not None else sentences


def encode(sentences, tokenizer, label2id: dict[str, int], max_length: int) -> list[dict]:
    """Tokenize pre-split words; label the first sub-token of each word, -100 elsewhere."""
    encodings = tokenizer(
        [tokens for tokens, _ in sentences],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        padding=False,
    )
    features = []
    for i, (_, tags) in enumerate(sentences):
        labels = []
        previous_word = None
        for word_id in encodings.word_ids(batch_index=i):
            if word_id is None or word_id == previous_word:
                labels.append(IGNORE_INDEX)
            else:
                labels.append(label2id[tags[word_id]])
            previous_word = word_id
        feature = {key: encodings[key][i] for key in encodings.keys()}
        feature["labels"] = labels
        features.append(feature)
    return features


def seqeval_scores(predictions: np.ndarray, label_ids: np.ndarray, id2label: dict[int, str]) -> dict:
    """seqeval micro P/R/F1 (default, conlleval-style mode) plus token accuracy, as run_ner reports."""
    preds = np.argmax(predictions, axis=-1)
    y_true, y_pred = [], []
    for pred_row, label_row in zip(preds, label_ids):
        keep = label_row != IGNORE_INDEX
        y_true.append([id2label[int(l)] for l in label_row[keep]])
        y_pred.append([id2label[int(p)] for p in pred_row[keep]])
    return {
        "precision": float(precision_score(y_true, y_pred)),
        "recall": float(recall_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
    }


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", required=True)
    p.add_argument("--validation", default=None, help="optional; evaluated once after training")
    p.add_argument("--test", required=True)
    p.add_argument("--model", required=True, help="local model directory")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--limit-eval", type=int, default=None)
    p.add_argument("--output-dir", required=True)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    train_sents = read_conll(args.train, args.limit_train)
    test_sents = read_conll(args.test, args.limit_eval)
    val_sents = read_conll(args.validation, args.limit_eval) if args.validation else None

    # run_ner (non-ClassLabel data): sorted set of the training labels.
    label_list = sorted({tag for _, tags in train_sents for tag in tags})
    label2id = {label: i for i, label in enumerate(label_list)}
    id2label = {i: label for label, i in label2id.items()}
    # Tags unseen in training would crash the label lookup; fail with a clear message instead.
    for name, sents in (("test", test_sents), ("validation", val_sents or [])):
        unseen = {t for _, tags in sents for t in tags} - set(label2id)
        if unseen:
            sys.exit(f"{name} set has tags not seen in training: {sorted(unseen)}")

    # Seed before the model is built so the classification head init is reproducible
    # (Trainer seeds again in __init__, but only after the model exists).
    set_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForTokenClassification.from_pretrained(
        args.model, num_labels=len(label_list), id2label=id2label, label2id=label2id
    )

    train_ds = encode(train_sents, tokenizer, label2id, args.max_length)
    test_ds = encode(test_sents, tokenizer, label2id, args.max_length)
    val_ds = encode(val_sents, tokenizer, label2id, args.max_length) if val_sents else None

    training_args = TrainingArguments(
        output_dir=str(out_dir),
        learning_rate=args.lr,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        num_train_epochs=args.epochs,
        seed=args.seed,
        weight_decay=0.0,
        warmup_steps=0,
        lr_scheduler_type="linear",
        eval_strategy="no",
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=200,
        report_to="none",
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_ds,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
    )

    start = time.perf_counter()
    train_output = trainer.train()
    train_seconds = time.perf_counter() - start

    result: dict = {}
    if val_ds is not None:
        val_pred = trainer.predict(val_ds)
        result["validation"] = seqeval_scores(val_pred.predictions, val_pred.label_ids, id2label)
    test_pred = trainer.predict(test_ds)
    result["test"] = seqeval_scores(test_pred.predictions, test_pred.label_ids, id2label)
    result["train"] = {
        "train_runtime": train_seconds,
        "train_samples_per_second": len(train_ds) * args.epochs / train_seconds,
        "train_sentences": len(train_ds),
        "epochs": args.epochs,
        "train_loss": train_output.training_loss,
        "trainer_reported_train_runtime": train_output.metrics.get("train_runtime"),
    }
    result["test_sentences"] = len(test_ds)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    (out_dir / "peer_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()

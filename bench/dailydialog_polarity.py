"""Derive a binary sentiment set from DailyDialog's per-utterance emotion labels (bench only).

    python bench/dailydialog_polarity.py                      # writes bench/out/dailydialog-polarity/
    python bench/fewshot.py --data-dir bench/out/dailydialog-polarity ...

DailyDialog (Li et al. 2017) labels every utterance with one of seven emotions. Happiness (4) is
positive; anger (1), disgust (2), fear (3) and sadness (5) are negative; "no emotion" (0) and
surprise (6, either polarity) are left out. ``train.tsv`` is every such utterance of the train
split, ``dev.tsv`` a balanced evaluation set from the test split: every negative utterance and as
many positive ones (drawn with ``random.Random(0)``), none whose text also occurs in train.
Both files are SST-2's layout (``sentence<TAB>label``, 1 = positive). What the files hold and
their checksums: bench/datasets/dailydialog-polarity/SOURCE.md. The source is
``../shared/datasets/dailydialog`` (CC BY-NC-SA 4.0), which is why the derived files are made
here rather than committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sst2_prompting import write_tsv  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT.parent / "shared" / "datasets" / "dailydialog"
POLARITY = {"4": 1, "1": 0, "2": 0, "3": 0, "5": 0}


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def utterances(source: Path, split: str):
    """(text, polarity) for every utterance whose emotion has a polarity, in file order."""
    dialogues = (source / split / f"dialogues_{split}.txt").read_text(encoding="utf-8").splitlines()
    emotions = (source / split / f"dialogues_emotion_{split}.txt").read_text(encoding="utf-8").splitlines()
    for dialogue, labels in zip(dialogues, emotions):
        turns = [t.strip() for t in dialogue.split("__eou__") if t.strip()]
        labels = labels.split()
        # train line 7852 has one label fewer than turns (its SOURCE.md): which turn lacks it is unknown
        if len(turns) != len(labels):
            continue
        for text, emotion in zip(turns, labels):
            if emotion in POLARITY:
                yield " ".join(text.replace("\t", " ").split()), POLARITY[emotion]


def unique(rows):
    """Drop repeated texts; a text seen with both polarities is dropped altogether."""
    seen: dict[str, set] = {}
    for text, label in rows:
        seen.setdefault(normalise(text), set()).add(label)
    kept, done = [], set()
    for text, label in rows:
        key = normalise(text)
        if len(seen[key]) == 1 and key not in done:
            done.add(key)
            kept.append((text, label))
    return kept


def derive(source: Path = SOURCE):
    train = unique(list(utterances(source, "train")))
    in_train = {normalise(t) for t, _ in train}
    test = [row for row in unique(list(utterances(source, "test"))) if normalise(row[0]) not in in_train]
    negative = [row for row in test if row[1] == 0]
    positive = [row for row in test if row[1] == 1]
    rng = random.Random(0)
    dev = negative + rng.sample(positive, len(negative))
    rng.shuffle(dev)
    return train, dev


def write(path: Path, rows) -> str:
    write_tsv(path, rows)
    return hashlib.md5(path.read_bytes()).hexdigest()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=str(SOURCE), help="the DailyDialog folder (train/, test/)")
    p.add_argument("--output-dir", default=str(REPO_ROOT / "bench" / "out" / "dailydialog-polarity"))
    a = p.parse_args(argv)
    train, dev = derive(Path(a.source))
    out = Path(a.output_dir)
    summary = {}
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        summary[name] = {"rows": len(rows), "positive": sum(l for _, l in rows), "md5": write(out / name, rows)}
    print(json.dumps(summary, indent=2))
    print("| file | rows | positive | negative | md5 |\n|---|---|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s['rows']} | {s['positive']} | {s['rows'] - s['positive']} | {s['md5']} |")


if __name__ == "__main__":
    main()

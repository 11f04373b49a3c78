"""DailyDialog text: the ``dailydialog`` reader and the corpus's split folders."""

from __future__ import annotations

import re
from pathlib import Path

from ptrun import DataError, Record, echo, open_text

EOU = "__eou__"
SPLIT_WORDS = {"train": ("train",), "validation": ("validation", "valid", "dev", "val"), "test": ("test",)}


def detokenize(text: str) -> str:
    """Join DailyDialog's tokenised punctuation: ``I ’ m fine , thanks .`` -> ``I’m fine, thanks.``"""
    text = " ".join(text.split())
    text = re.sub(r"(\w) ([’']) (s|t|m|d|ll|re|ve)\b", r"\1\2\3", text, flags=re.I)  # contractions only
    text = re.sub(r" ([.,?!;:%)]+)(?= |$)", r"\1", text)
    text = re.sub(r"\( ", "(", text)
    return re.sub(r"([$£¥]) (?=\d)", r"\1", text)


def read_dailydialog(path) -> list[Record]:
    """The ``dailydialog`` reader: one dialogue per line, turns separated by ``__eou__``.

    Records carry ``turns`` (strings, user first). Blank lines are not dialogues.
    """
    path = Path(path)
    records = []
    with open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            if EOU not in line:
                raise DataError(
                    f"expected DailyDialog text (turns separated by {EOU}) but this line has no {EOU}",
                    path=path,
                    line=line_no,
                    hint="Pass the dialogues_<split>.txt file (not the act or emotion label files), "
                    "or JSONL with a `messages` list per line.",
                )
            pieces = line.rstrip("\r\n").split(EOU)
            if not pieces[-1].strip():
                pieces.pop()  # each line ends with the separator
            turns = []
            for k, piece in enumerate(pieces, 1):
                if not piece.strip():
                    raise DataError(
                        f"turn {k} of the dialogue is empty (two {EOU} markers with nothing between)",
                        path=path,
                        line=line_no,
                        hint="Remove the extra separator.",
                    )
                turns.append(detokenize(piece))
            records.append(Record({"turns": turns}, str(path), line_no))
    return records


def pick_dialogue_file(folder: Path, split: str, files: list[Path]) -> list[Path]:
    """Among the files of a split folder, the one whose name the others extend: DailyDialog's
    ``dialogues_train.txt`` beside ``dialogues_act_train.txt`` and ``dialogues_emotion_train.txt``
    (its annotations); all of them when there is no such file."""
    split_words = {split, *SPLIT_WORDS.get(split, ())}

    def base(path: Path) -> str:
        words = [w for w in path.stem.lower().replace("-", "_").split("_") if w not in split_words]
        return "_".join(words)

    for candidate in files:
        stem = base(candidate)
        if all(other is candidate or base(other).startswith(stem + "_") for other in files):
            others = ", ".join(p.name for p in files if p is not candidate)
            echo(f"--data: using {candidate} for the {split} split (not {others}).")
            return [candidate]
    return files

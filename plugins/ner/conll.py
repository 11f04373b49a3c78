"""CoNLL column files and BIO tags: the reader, IOB1 -> IOB2, entities of a tag sequence, tag sets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ptrun import DataError, LabelMap, Record, open_text

BIO_PREFIXES = ("B-", "I-", "E-", "S-", "L-", "U-")


def _check_tag(tag: str, path, line: int) -> str:
    if tag == "O":
        return tag
    prefix, _, etype = tag.partition("-")
    if prefix in ("B", "I") and etype:
        return tag
    raise DataError(
        f"'{tag}' is not a BIO tag (expected O, B-TYPE or I-TYPE), so entities cannot be scored",
        path=path,
        line=line,
        hint="Fix the tag; ptrun reads IOB1 and IOB2 tag columns.",
    )


def to_iob2(tags: list[str]) -> list[str]:
    """IOB1 -> IOB2: an ``I-X`` that does not continue an ``X`` entity starts one."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-"):
            prev = out[i - 1] if i else "O"
            if prev == "O" or prev[2:] != tag[2:]:
                tag = "B-" + tag[2:]
        out.append(tag)
    return out


def iter_conll(path: Path, *, skip_bad: bool = False) -> Iterator[Record]:
    """Sentences of a CoNLL column file, one at a time: token first, tag last, blank lines
    between sentences; ``doc`` numbers the document (``-DOCSTART-`` lines). With ``skip_bad`` a sentence with a bad tag is yielded as the
    :class:`ptrun.DataError` of its first bad line (``raw``: the sentence's lines) and reading goes on."""
    tokens: list[str] = []
    tags: list[str | None] = []
    lines: list[str] = []
    start = 0
    error = None
    doc = 0  # documents as -DOCSTART- lines divide them (a file without any is one document)

    def sentence():
        item = Record({"tokens": list(tokens), "tags": list(tags), "doc": doc}, str(path), start)
        if error is not None:
            error.raw = "\n".join(lines)
            item = error
        for part in (tokens, tags, lines):
            part.clear()
        return item

    with open_text(path) as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.split()[0] == "-DOCSTART-":
                if tokens:
                    yield sentence()
                    error = None
                if line:
                    doc += 1
                continue
            columns = line.split()
            if not tokens:
                start = line_no
            tokens.append(columns[0])
            lines.append(raw.rstrip("\r\n"))
            if len(columns) == 1:
                tags.append(None)
                continue
            try:
                tags.append(_check_tag(columns[-1], path, line_no))
            except DataError as exc:
                if not skip_bad:
                    raise
                tags.append(None)
                error = error or exc
        if tokens:
            yield sentence()


def read_conll(path: Path) -> list[Record]:
    """Sentences of a CoNLL column file: token first, tag last, blank lines between sentences."""
    return list(iter_conll(path))


def entities_of(tokens: list[str], tags: list[str]) -> list[dict]:
    """The entities IOB2 ``tags`` mark on ``tokens``, in order: ``{"type": "PER", "text": "John Smith"}``."""
    entities: list[dict] = []
    current: list[str] = []
    etype = None
    for token, tag in zip(tokens, tags):
        if tag.startswith("I-") and current and tag[2:] == etype:
            current.append(token)
            continue
        if current:
            entities.append({"type": etype, "text": " ".join(current)})
        current, etype = ([token], tag[2:]) if tag != "O" else ([], None)
    if current:
        entities.append({"type": etype, "text": " ".join(current)})
    return entities


def tag_label_map(tags) -> LabelMap:
    """A tag set with ``O`` first, then tags grouped by entity type."""
    tags = set(tags)
    tags.discard("O")

    def order(tag: str):
        return (tag[2:], tag[:2]) if tag.startswith(BIO_PREFIXES) else (tag, "")

    return LabelMap(labels=["O", *sorted(tags, key=order)], kind="tags")


def entity_types(label_map) -> list[str]:
    """The entity types the tags of ``label_map`` mark (``PER`` for ``B-PER``)."""
    if label_map is None:
        return []
    return sorted({label[2:] for label in label_map.labels if label.startswith(BIO_PREFIXES)})


def seqeval_metrics(predictions, references) -> dict:
    """Entity-level F1/precision/recall (seqeval), token accuracy and a per-type report."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    try:
        report = classification_report(references, predictions, output_dict=True, zero_division=0)
    except Exception as exc:  # seqeval rejects tag schemes it cannot parse
        raise DataError(f"seqeval cannot score these tags: {exc}") from None
    tokens = sum(len(r) for r in references)
    correct = sum(p == g for pr, rr in zip(predictions, references) for p, g in zip(pr, rr))
    per_type = {
        k: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"], "support": int(v["support"])}
        for k, v in report.items()
        if not k.endswith(" avg")
    }
    return {
        "f1": float(f1_score(references, predictions, zero_division=0)),
        "precision": float(precision_score(references, predictions, zero_division=0)),
        "recall": float(recall_score(references, predictions, zero_division=0)),
        "token_accuracy": correct / tokens if tokens else 0.0,
        "per_type_report": per_type,
    }

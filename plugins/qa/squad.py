"""SQuAD files: the ``squad`` reader (v1.1/v2.0 JSON, one record per question, located at its
``"id"`` line) and flat JSON lists of questions."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ptrun import DataError, Record, read_records, read_text

_ID_KEY = re.compile(r'"id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _id_lines(text: str) -> dict[str, int]:
    """Question id -> line of its ``"id"`` key in the file text (first occurrence)."""
    lines: dict[str, int] = {}
    line, pos = 1, 0
    for match in _ID_KEY.finditer(text):
        line += text.count("\n", pos, match.start())
        pos = match.start()
        try:
            key = json.loads(f'"{match.group(1)}"')
        except json.JSONDecodeError:
            continue
        lines.setdefault(key, line)
    return lines


def is_squad(obj) -> bool:
    """True for the SQuAD nesting: ``{"data": [{"paragraphs": [...]}, ...]}``."""
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        return False
    return not obj["data"] or (isinstance(obj["data"][0], dict) and "paragraphs" in obj["data"][0])


def _load_json(path: Path):
    if not path.is_file():
        raise DataError("no such data file", path=path, hint="Check the path you passed.")
    text = read_text(path)
    try:
        return json.loads(text), text
    except (ValueError, RecursionError) as exc:
        problem = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else (
            "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0])
        raise DataError(
            f"invalid JSON ({problem})",
            path=path,
            line=getattr(exc, "lineno", None),
            hint="Fix the file so that it parses (SQuAD JSON, or use JSONL with one object per line).",
        ) from None


def squad_records(obj, text: str, path: Path) -> list[Record]:
    """Flatten parsed SQuAD JSON into one record per question, located at its ``"id"`` line."""
    if not is_squad(obj):
        raise DataError(
            'expected SQuAD JSON: an object whose "data" list holds articles with "paragraphs"',
            path=path,
            hint="Use the SQuAD layout, or JSONL with id, context, question and answers on each line.",
        )
    id_lines = _id_lines(text)
    records: list[Record] = []
    for a, article in enumerate(obj["data"], 1):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise DataError(
                f'article {a} of "data" is not an object with a "paragraphs" list',
                path=path,
                line=records[-1].line if records else None,
                hint='Each item of "data" must be {"title": ..., "paragraphs": [...]}.',
            )
        title = str(article.get("title") or "")
        for p, paragraph in enumerate(article["paragraphs"], 1):
            where = f"article {a} ({title!r}), paragraph {p}" if title else f"article {a}, paragraph {p}"
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            ids = [str(q.get("id")) for q in qas or [] if isinstance(q, dict) and q.get("id") is not None]
            line = next((id_lines[i] for i in ids if i in id_lines), records[-1].line if records else None)
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise DataError(
                    f'{where} has no "context" string',
                    path=path,
                    line=line,
                    hint='Each paragraph must be {"context": "...", "qas": [...]}.',
                )
            if not isinstance(qas, list):
                raise DataError(
                    f'{where} has no "qas" list of questions',
                    path=path,
                    line=line,
                    hint='Add "qas": [{"id", "question", "answers"}, ...] to the paragraph.',
                )
            for q, qa in enumerate(qas, 1):
                if not isinstance(qa, dict) or qa.get("id") in (None, ""):
                    raise DataError(
                        f'{where}, question {q} has no "id" (SQuAD questions are named by their id)',
                        path=path,
                        line=line,
                        hint='Give every question a unique "id".',
                    )
                qid = str(qa["id"])
                line = id_lines.get(qid, line)
                fields = {"id": qid, "title": title, "context": paragraph["context"]}
                fields.update({k: qa[k] for k in ("question", "answers", "is_impossible") if k in qa})
                records.append(Record(fields, str(path), line))
    if not records:
        raise DataError("the file holds no questions", path=path, hint="Check that it is the right file.")
    return records


def read_squad(path) -> list[Record]:
    """The ``squad`` reader: SQuAD v1.1/v2.0 JSON, one record per question."""
    path = Path(path)
    obj, text = _load_json(path)
    return squad_records(obj, text, path)


def read_qa_json(path) -> list[Record]:
    """A ``.json`` file for QA: the SQuAD nesting if it has one, else a flat list of questions."""
    path = Path(path)
    obj, text = _load_json(path)
    if is_squad(obj):
        return squad_records(obj, text, path)
    return read_records(path, "json")



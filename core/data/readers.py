"""Task-independent data readers (TSV, CSV, JSONL, JSON); a default plugin of ptrun."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ptrun.data.records import Record
from ptrun.errors import DataError
from ptrun.hookspecs import hookimpl


def _open(path: Path):
    return open(path, encoding="utf-8-sig", newline="")


def read_delimited(path: Path, delimiter: str) -> list[Record]:
    """Read a header-first delimited file; every row must have as many cells as the header."""
    records = []
    with _open(path) as f:
        # TSV data often carries stray quote characters inside text; only CSV honours quoting.
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        header = next(reader, None)
        if not header:
            raise DataError("the file is empty; expected a header line", path=path, line=1)
        header = [h.strip() for h in header]
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataError(
                    f"expected {len(header)} columns ({', '.join(header)}) but found {len(row)}",
                    path=path,
                    line=line,
                    hint="Check for a missing or extra delimiter on this line.",
                )
            records.append(Record({h: cell.strip() for h, cell in zip(header, row)}, str(path), line))
    return records


def read_tsv(path: Path) -> list[Record]:
    return read_delimited(path, "\t")


def read_csv(path: Path) -> list[Record]:
    return read_delimited(path, ",")


def read_jsonl(path: Path) -> list[Record]:
    records = []
    with _open(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"invalid JSON ({exc.msg} at column {exc.colno})",
                    path=path,
                    line=line_no,
                    hint="Each line must be one JSON object.",
                ) from None
            if not isinstance(obj, dict):
                raise DataError(
                    f"expected a JSON object, found {type(obj).__name__}", path=path, line=line_no
                )
            records.append(Record(obj, str(path), line_no))
    return records


def read_json(path: Path) -> list[Record]:
    """A JSON list of objects, or an object whose ``data``/``examples`` key holds that list."""
    with _open(path) as f:
        try:
            obj = json.load(f)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON ({exc.msg})", path=path, line=exc.lineno) from None
    if isinstance(obj, dict):
        obj = obj.get("examples", obj.get("data"))
    if not isinstance(obj, list) or not all(isinstance(item, dict) for item in obj):
        raise DataError(
            "expected a list of objects (or {\"examples\": [...]})",
            path=path,
            hint="Use JSONL with one object per line, or a task plugin that reads this layout.",
        )
    # JSON has no useful line numbers per item; report the 1-based item index instead.
    return [Record(item, f"{path} item", i) for i, item in enumerate(obj, 1)]


@hookimpl
def ptrun_readers():
    return {"tsv": read_tsv, "csv": read_csv, "jsonl": read_jsonl, "json": read_json}

"""Task-independent data readers (TSV, CSV, JSONL, JSON); a default plugin of ptrun.

The line formats are read lazily (``iter_*``, record by record); the ``read_*`` functions list them."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from ptrun.data.reading import bad_record
from ptrun.data.records import Record
from ptrun.data.textfile import MAX_LINE_BYTES, open_text
from ptrun.errors import DataError
from ptrun.hookspecs import hookimpl

# A cell may be as long as a line may be (the csv module's default stops at 128 KiB with its own error).
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))


def _rows(reader, path: Path, f) -> Iterator[list[str]]:
    """The rows of a csv reader, with the csv module's own errors as DataErrors naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"this line cannot be read as {'TSV' if reader.dialect.delimiter == chr(9) else 'CSV'} ({exc})",
                            path=path, line=f.line, hint="Check the quoting on this line.") from None
        yield row


def iter_delimited(path: Path, delimiter: str, *, skip_bad: bool = False) -> Iterator[Record]:
    """Records of a header-first delimited file, one at a time; every row must have as many
    cells as the header. With ``skip_bad`` a bad row is yielded as its :class:`DataError`
    (``raw``: the row's text) and reading goes on."""
    with open_text(path) as f:
        # TSV data often carries stray quote characters inside text; only CSV honours quoting.
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        rows = _rows(reader, path, f)
        header = next(rows, None)
        if not header:
            raise DataError("the file is empty; expected a header line", path=path, line=1)
        header = [h.strip() for h in header]
        for row in rows:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                error = DataError(
                    f"expected {len(header)} columns ({', '.join(header)}) but found {len(row)}",
                    path=path,
                    line=line,
                    hint="Check for a missing or extra delimiter on this line.",
                )
                if not skip_bad:
                    raise error
                yield bad_record(error, delimiter.join(row))
                continue
            yield Record({h: cell.strip() for h, cell in zip(header, row)}, str(path), line)


def read_delimited(path: Path, delimiter: str) -> list[Record]:
    """Read a header-first delimited file; every row must have as many cells as the header."""
    return list(iter_delimited(path, delimiter))


def iter_tsv(path: Path, *, skip_bad: bool = False) -> Iterator[Record]:
    return iter_delimited(path, "\t", skip_bad=skip_bad)


def iter_csv(path: Path, *, skip_bad: bool = False) -> Iterator[Record]:
    return iter_delimited(path, ",", skip_bad=skip_bad)


def read_tsv(path: Path) -> list[Record]:
    return read_delimited(path, "\t")


def read_csv(path: Path) -> list[Record]:
    return read_delimited(path, ",")


def _json_problem(exc: Exception) -> str:
    """What json.loads objected to: a syntax error, a number too long (ValueError), nesting too deep."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(";")[0]


def iter_jsonl(path: Path, *, skip_bad: bool = False) -> Iterator[Record]:
    """Records of a JSONL file, one at a time (``skip_bad``: as :func:`iter_delimited`)."""
    with open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError) as exc:
                error = DataError(
                    f"invalid JSON ({_json_problem(exc)})",
                    path=path,
                    line=line_no,
                    hint="Each line must be one JSON object.",
                )
            else:
                if isinstance(obj, dict):
                    yield Record(obj, str(path), line_no)
                    continue
                error = DataError(f"expected a JSON object, found {type(obj).__name__}", path=path, line=line_no)
            if not skip_bad:
                raise error
            yield bad_record(error, line.rstrip("\r\n"))


def read_jsonl(path: Path) -> list[Record]:
    return list(iter_jsonl(path))


def read_json(path: Path) -> list[Record]:
    """A JSON list of objects, or an object whose ``data``/``examples`` key holds that list (a
    whole-document format: read at once, never record by record)."""
    with open_text(path) as f:
        text = f.read()
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DataError(f"invalid JSON ({_json_problem(exc)})", path=path, line=getattr(exc, "lineno", None)) from None
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
    # The line formats are registered as generators: ``read_records`` lists them, ``iter_records``
    # (``ptrun predict``) streams them.
    return {"tsv": iter_tsv, "csv": iter_csv, "jsonl": iter_jsonl, "json": read_json}

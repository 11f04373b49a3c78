"""Opening a data file as users have it: the one function every built-in reader opens through.

UTF-8 (with or without a BOM, LF or CRLF) is read as is; UTF-16 and UTF-32 are read when a BOM
declares them. Anything else (Latin-1 bytes that are not UTF-8, binary files with NUL bytes) and
lines longer than :data:`MAX_LINE_BYTES` are a :class:`DataError` naming the file, the line and
the byte offset, with the fix.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from ptrun.errors import DataError

#: The longest line a line-based reader takes (``PTRUN_MAX_LINE_BYTES`` to change); a longer one
#: is almost always a file that is not what the reader expects (a binary, a one-line dump).
MAX_LINE_BYTES = int(os.environ.get("PTRUN_MAX_LINE_BYTES", str(1 << 20)))

# UTF-32 first: its little-endian BOM starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _iconv_hint(path) -> str:
    return (
        f"ptrun reads UTF-8 (or UTF-16/32 with a byte-order mark). Convert the file, e.g. "
        f"`iconv -f latin1 -t utf-8 {path} > {Path(path).stem}.utf8{Path(path).suffix}` "
        f"(use the encoding the file really has in place of latin1)."
    )


class TextFile:
    """A data file opened for reading text: iterate it for lines (line endings kept, as with
    ``newline=""``), or :meth:`read` it whole. A context manager, like ``open``."""

    def __init__(self, path, *, max_line: int | None = None):
        self.path = Path(path)
        self.max_line = MAX_LINE_BYTES if max_line is None else max_line
        try:
            self._f = open(self.path, "rb")  # noqa: SIM115 (closed by close()/__exit__)
        except IsADirectoryError:
            raise DataError("this is a folder, not a data file", path=path, hint="Pass a file.") from None
        except FileNotFoundError:
            raise DataError("no such data file", path=path, hint="Check the path you passed.") from None
        except PermissionError:
            raise DataError("the file cannot be read (permission denied)", path=path,
                            hint="Check the file's permissions.") from None
        head = self._f.read(4)
        self.encoding, bom = "utf-8", b""
        for mark, name in _BOMS:
            if head.startswith(mark):
                self.encoding, bom = name, mark
                break
        self._f.seek(len(bom))
        self._offset = len(bom)  # the byte offset of the next line, for error messages
        self.line = 0  # the number of the last line read
        self._decoder = None if self.encoding == "utf-8" else codecs.getincrementaldecoder(self.encoding)("strict")
        self._pending = ""
        if self._decoder is None:
            # A NUL in the first block marks a binary file (as git and `file` tell), before any
            # of its bytes is taken for badly encoded text.
            start = self._f.read(8192)
            self._f.seek(len(bom))
            if b"\x00" in start:
                self._f.close()
                self._check_bytes(start, 1, len(bom))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._f.close()

    def __iter__(self):
        return self

    def _error(self, what: str, line: int, offset: int) -> DataError:
        return DataError(f"{what} (byte offset {offset})", path=self.path, line=line, hint=_iconv_hint(self.path))

    def _check_bytes(self, data: bytes, line: int, offset: int) -> str:
        """UTF-8 ``data`` (starting at byte ``offset``, on ``line``) as text, or the error saying why not."""
        nul = data.find(b"\x00")
        if nul >= 0:
            line += data.count(b"\n", 0, nul)
            raise DataError(
                f"this is a binary file, not text: it holds a NUL byte (byte offset {offset + nul})",
                path=self.path,
                line=line,
                hint="Pass the text data file (UTF-8 TSV, CSV, JSONL, ...); a UTF-16 file needs its byte-order mark.",
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line += data.count(b"\n", 0, exc.start)
            bad = data[exc.start : exc.start + 1]
            raise self._error(f"the file is not UTF-8: byte 0x{bad.hex()} cannot start a UTF-8 character", line,
                              offset + exc.start) from None

    def _too_long(self, line: int) -> DataError:
        return DataError(
            f"the line is longer than {self.max_line:,} bytes",
            path=self.path,
            line=line,
            hint="A data line is one example; check that this is the right file, or raise the limit with "
            "PTRUN_MAX_LINE_BYTES.",
        )

    def __next__(self) -> str:
        if self._decoder is not None:
            return self._next_decoded()
        data = self._f.readline(self.max_line + 1)
        if not data:
            raise StopIteration
        self.line += 1
        if len(data) > self.max_line and not data.endswith(b"\n"):
            raise self._too_long(self.line)
        text = self._check_bytes(data, self.line, self._offset)
        self._offset += len(data)
        return text

    def _next_decoded(self) -> str:
        # UTF-16/32: decode in blocks and cut lines from the text.
        while "\n" not in self._pending:
            if len(self._pending) > self.max_line:
                raise self._too_long(self.line + 1)
            block = self._f.read(1 << 16)
            try:
                self._pending += self._decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                raise self._error(f"the file is not valid {self.encoding.upper()} ({exc.reason})", self.line + 1,
                                  self._f.tell() - len(block) + exc.start) from None
            if not block:
                break
        if not self._pending:
            raise StopIteration
        cut = self._pending.find("\n") + 1 or len(self._pending)
        text, self._pending = self._pending[:cut], self._pending[cut:]
        self.line += 1
        if "\x00" in text:
            raise DataError("this is a binary file, not text: it holds a NUL character", path=self.path, line=self.line,
                            hint="Pass the text data file.")
        return text

    def read(self) -> str:
        """The rest of the file as text (whole-document formats: no line-length limit)."""
        data = self._f.read()
        if self._decoder is None:
            text = self._check_bytes(data, self.line + 1, self._offset)
        else:
            try:
                text = self._pending + self._decoder.decode(data, final=True)
            except UnicodeDecodeError as exc:
                line = self.line + 1 + data[: exc.start].decode(self.encoding, "replace").count("\n")
                raise self._error(f"the file is not valid {self.encoding.upper()} ({exc.reason})", line,
                                  self._offset + exc.start) from None
            if "\x00" in text:
                raise DataError("this is a binary file, not text: it holds a NUL character", path=self.path,
                                hint="Pass the text data file.")
        self._pending = ""
        return text


def open_text(path, *, max_line: int | None = None) -> TextFile:
    """Open a data file for reading text; see :class:`TextFile`. Every reader opens through this."""
    return TextFile(path, max_line=max_line)


def read_text(path) -> str:
    """A whole data file as text (JSON documents), through :func:`open_text`."""
    with open_text(path) as f:
        return f.read()

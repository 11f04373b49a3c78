"""Errors a user can fix. The CLI prints them as one paragraph and exits with status 1."""

from __future__ import annotations


class PtrunError(Exception):
    """A problem with the user's input or setup, explained in words, with what to do about it."""

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.format())

    def where(self) -> str:
        return ""

    def format(self) -> str:
        text = self.where() + self.message.rstrip()
        if self.hint:
            if not text.endswith((".", "?", "!", ":")):
                text += "."
            text += " " + self.hint.strip()
        return text


class _Located(PtrunError):
    def __init__(self, message: str, *, path=None, line: int | None = None, hint: str | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(message, hint=hint)

    def where(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}: " if self.line else f"{self.path}: "


class DataError(_Located):
    """A data file that cannot be read as the task needs it (names the file and line)."""


class TemplateError(_Located):
    """A template that cannot be parsed, rendered or used with a task (names the file and line)."""

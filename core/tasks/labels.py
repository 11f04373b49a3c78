"""Label maps: label names <-> ids <-> verbalizer words."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ptrun.errors import PtrunError


@dataclass
class LabelMap:
    """The labels of a task in id order, with optional verbalizer words for each label.

    ``kind`` says what the labels are, for the task that made the map: ``"classes"`` (the
    default; a causal LM can rank them as answer choices) or a task's own word (``"tags"``,
    ``"text"``). ``aliases`` maps other spellings found in data (``"1"``, ``"pos"``) to label names.
    """

    labels: list[str]
    words: dict[str, str] = field(default_factory=dict)
    kind: str = "classes"
    aliases: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if len(set(self.labels)) != len(self.labels):
            raise PtrunError(f"label map has duplicate labels: {self.labels}")
        unknown = set(self.words) - set(self.labels)
        if unknown:
            raise PtrunError(
                f"label words given for unknown label(s) {sorted(unknown)}; labels are {self.labels}",
                hint="Fix the template's answer_choices so its keys are the task's labels.",
            )

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label) -> bool:
        return label in self.label2id or str(label) in self.aliases

    def canonical(self, label) -> str | None:
        """The label name for ``label`` (a name, an alias or an id spelled as text), or None."""
        label = str(label)
        if label in self.label2id:
            return label
        return self.aliases.get(label)

    def word(self, label: str) -> str:
        return self.words.get(label, label)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "labels": self.labels, "words": self.words, "aliases": self.aliases}

    @classmethod
    def from_dict(cls, data: dict) -> "LabelMap":
        return cls(
            labels=list(data["labels"]),
            words=dict(data.get("words") or {}),
            kind=data.get("kind", "classes"),
            aliases=dict(data.get("aliases") or {}),
        )

    def save(self, path) -> None:
        from ptrun.run.folder import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path) -> "LabelMap":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def for_classes(cls, labels, answer_choices: dict | None = None) -> "LabelMap":
        """Classification labels; numeric data labels become aliases of the named ones.

        With answer choices ``{negative: terrible, positive: great}`` and data labels ``0, 1``,
        labels are the answer-choice keys in order and ``0 -> negative, 1 -> positive``.
        """
        labels = [str(label) for label in labels]
        words = {str(k): str(v) for k, v in (answer_choices or {}).items()}
        if words and set(labels) <= set(str(i) for i in range(len(words))) and not set(labels) & set(words):
            names = list(words)
            return cls(labels=names, words=words, aliases={str(i): name for i, name in enumerate(names)})
        if words:
            missing = [label for label in labels if label not in words]
            if missing:
                raise PtrunError(
                    f"the data has label(s) {missing} that the template's answer_choices "
                    f"({', '.join(words)}) do not cover",
                    hint="Add them to answer_choices, or fix the labels in the data.",
                )
            return cls(labels=list(words), words=words)
        return cls(labels=labels)

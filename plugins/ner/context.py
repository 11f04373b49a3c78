"""Document context for encoder NER: the previous and next sentence of the same document.

CoNLL files mark documents with ``-DOCSTART-`` lines (the reader numbers them; a file without any
is one document, its sentences in file order). A template shows the neighbours with
``{{ prev_text }}`` and ``{{ next_text }}``; like ``{{ sentence }}`` they render as marks that
:func:`word_segments` replaces with the words, so ptrun knows which tokens are context (label
-100) and which are the sentence's own (tagged). :func:`fit_context` trims the neighbours from
their far ends (the start of the previous sentence, the end of the next) until the example fits
``--max-length`` (FLERT, Schweter and Akbik 2020).
"""

from __future__ import annotations

import re
from itertools import pairwise

#: Private-use characters standing in for the neighbours while rendering.
PREV_MARK = "\ue001"
NEXT_MARK = "\ue002"


def link_documents(examples) -> None:
    """Give each example the tokens of its neighbours in the same document (in place)."""
    for before, after in pairwise(examples):
        if before.fields.get("doc") is not None and before.fields.get("doc") == after.fields.get("doc"):
            after.fields["prev_tokens"] = list(before.fields["tokens"])
            before.fields["next_tokens"] = list(after.fields["tokens"])


def word_segments(text: str, marks: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """``text`` as ``(role, words)`` pieces: each mark in ``marks`` (mark -> its words) becomes
    ``(mark, words)``, the text between marks ``("", text.split())``."""
    pattern = "(" + "|".join(re.escape(m) for m in marks) + ")"
    out = []
    for piece in re.split(pattern, text):
        if piece in marks:
            out.append((piece, list(marks[piece])))
        elif piece.split():
            out.append(("", piece.split()))
    return out


def fit_context(segments, word_lengths: list[int], max_length: int, special: int) -> list[tuple[str, list[str]]]:
    """Drop words from the far ends of the context segments (``PREV_MARK``'s first words,
    ``NEXT_MARK``'s last words; the longer side first) until the sub-tokens, ``word_lengths`` per
    word in segment order plus ``special`` added tokens, fit ``max_length``."""
    lengths, i = [], 0
    for _role, words in segments:
        lengths.append(word_lengths[i : i + len(words)])
        i += len(words)
    excess = sum(word_lengths) + special - max_length
    kept = [list(words) for _role, words in segments]
    while excess > 0:
        sides = [(sum(lengths[j]), j) for j, (role, _w) in enumerate(segments) if role in (PREV_MARK, NEXT_MARK) and lengths[j]]
        if not sides:
            break  # only the sentence and the template's own words are left: tokenizer truncation
        _size, j = max(sides)
        drop_first = segments[j][0] == PREV_MARK  # the previous sentence loses its start
        excess -= lengths[j].pop(0 if drop_first else -1)
        kept[j].pop(0 if drop_first else -1)
    return [(role, words) for (role, _w), words in zip(segments, kept)]

"""Generative NER: parsing a causal LM's ``TYPE: text`` lines back onto the sentence as IOB2 tags."""

from __future__ import annotations

import re

from ptrun.plugins.ner.conll import entity_types

ENTITY_NAMES = {"PER": "person", "LOC": "location", "ORG": "organization", "MISC": "miscellaneous"}
#: Other spellings a model may write for a type (besides the code and its name, in any case).
TYPE_ALIASES = {"organisation": "ORG", "misc": "MISC", "per": "PER", "people": "PER"}
#: What a generation says when a sentence has no entities (compared lower-cased, without a final period).
NO_ENTITIES = {"none", "no entities", "no entity", "n/a", "nothing"}
#: Counts every parsed generation reports (summed over a split into metrics.json).
GENERATION_COUNTS = (
    "predicted_entities",
    "invented_entities",
    "unknown_types",
    "malformed_lines",
    "overlapping_entities",
    "empty_generations",
)
_BULLET = re.compile(r"^(?:[-*\u2022]|\d+[.)])\s+")
_QUOTES = "\"'`\u201c\u201d\u2018\u2019"


def _find_span(tokens: list[str], span: str, used: list[bool]) -> tuple[int, int] | str:
    """Where the text ``span`` occurs in ``tokens``: the first occurrence whose tokens are not
    ``used``, trying an exact token match, then a case-insensitive one, then one that ignores
    spacing ("Smith's" for the tokens ``Smith 's``). Each try takes the span without a final
    punctuation mark ("Paris." at the end of a sentence) before the span as written. Returns
    ``(start, end)``, or ``"overlap"`` when every occurrence overlaps an entity placed earlier,
    or ``"missing"``."""
    variants = [span.split()]
    if span[-1:] in ".,;:!?" and span[:-1].strip():
        variants.insert(0, span[:-1].split())
    n = len(tokens)
    lowered = [t.lower() for t in tokens]
    overlap = False

    def token_matches(words, fold):
        probe = [w.lower() for w in words] if fold else words
        seq = lowered if fold else tokens
        k = len(words)
        for i in range(n - k + 1):
            if seq[i : i + k] == probe:
                yield i, i + k

    def spacing_matches(words):
        joined = "".join(words).lower()
        for i in range(n):
            acc = ""
            for j in range(i, n):
                acc += lowered[j]
                if acc == joined:
                    yield i, j + 1
                if not joined.startswith(acc):
                    break

    for attempt in ("exact", "fold", "spacing"):
        for words in variants:
            if not words:
                continue
            found = spacing_matches(words) if attempt == "spacing" else token_matches(words, attempt == "fold")
            for start, end in found:
                if not any(used[start:end]):
                    return start, end
                overlap = True
    return "overlap" if overlap else "missing"


def parse_entities(tokens, text, label_map):
    """IOB2 tags for the entity lines ``TYPE: text`` of a generation, and what was dropped.

    Each entity's text is looked up in the sentence's tokens, left to right, taking the first
    occurrence that no earlier entity covers (exact, then case-insensitive, then ignoring
    spaces). Text that is not in the sentence is dropped and counted (``invented_entities``),
    as are unknown types, lines that are not ``TYPE: text`` (``malformed_lines``) and
    entities whose every occurrence is taken (``overlapping_entities``). ``none`` means no
    entities. An empty generation predicts all ``O`` and counts as ``empty_generations``
    (not as unparseable: seqeval needs a tag per token). Types may be written as the code
    (``PER``) or the readable name (``person``), in any case. Parsing stops at the first blank
    line after an answer, where a plain-text model goes on to write the next example.

    Tags are IOB2, the scheme the CoNLL reader converts every file to.
    """
    tokens = list(tokens)
    tags = ["O"] * len(tokens)
    used = [False] * len(tokens)
    counts = dict.fromkeys(GENERATION_COUNTS, 0)
    dropped: list[dict] = []
    if not text.strip():
        counts["empty_generations"] = 1
        return tags, {**counts, "dropped": dropped}
    lookup = type_lookup(label_map)

    def place(code: str, span: str) -> str:
        found = _find_span(tokens, span, used)
        if isinstance(found, tuple):
            start, end = found
            tags[start : end] = [f"B-{code}"] + [f"I-{code}"] * (end - start - 1)
            used[start : end] = [True] * (end - start)
            counts["predicted_entities"] += 1
        return found if isinstance(found, str) else "placed"

    answered = False
    for raw in text.splitlines():
        line = _BULLET.sub("", raw.strip()).replace("**", "").strip()
        if not line:
            if answered:
                break
            continue
        if line.rstrip(".").strip().lower() in NO_ENTITIES:
            answered = True
            continue
        etype, sep, span = line.partition(":")
        etype, span = etype.strip(), span.strip()
        if len(span) > 1 and span[0] in _QUOTES and span[-1] in _QUOTES:
            span = span[1:-1].strip()
        if not sep or not etype or not span:
            counts["malformed_lines"] += 1
            dropped.append({"line": line, "reason": "not TYPE: text"})
            continue
        answered = True
        if span.rstrip(".").strip().lower() in NO_ENTITIES:
            continue  # "PER: none"
        code = lookup.get(etype.lower())
        if code is None:
            counts["unknown_types"] += 1
            dropped.append({"line": line, "reason": "unknown type"})
            continue
        result = place(code, span)
        if result == "missing" and "," in span:
            # "PER: Anna, Tom": several entities on one line; each part stands on its own.
            parts = [p.strip() for p in span.split(",") if p.strip()]
            results = [(p, place(code, p)) for p in parts]
            failed = [(p, r) for p, r in results if r != "placed"]
        else:
            failed = [(span, result)] if result != "placed" else []
        for part, reason in failed:
            key = "invented_entities" if reason == "missing" else "overlapping_entities"
            counts[key] += 1
            dropped.append({
                "line": f"{etype}: {part}",
                "reason": "not in the sentence" if reason == "missing" else "its text is already tagged",
            })
    return tags, {**counts, "dropped": dropped}

def type_lookup(label_map) -> dict[str, str]:
    """Lower-cased spellings of each entity type (code, readable name, aliases) -> code."""
    types = entity_types(label_map)
    lookup = {}
    for code in types:
        lookup[code.lower()] = code
        lookup[ENTITY_NAMES.get(code, code).lower()] = code
    for alias, code in TYPE_ALIASES.items():
        if code in types:
            lookup.setdefault(alias, code)
    return lookup

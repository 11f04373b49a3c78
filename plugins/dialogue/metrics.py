"""Dialogue metrics: token F1 of the response, distinct-1/2, response lengths."""

from __future__ import annotations

import unicodedata
from collections import Counter


def normalize_tokens(text: str | None) -> list[str]:
    """Lower-cased tokens with punctuation (any Unicode punctuation) turned into spaces, so
    ``I’m`` and ``I ’ m`` give the same tokens."""
    if not text:
        return []
    chars = [" " if unicodedata.category(ch).startswith("P") else ch for ch in text.lower()]
    return "".join(chars).split()


def token_f1(prediction: str | None, reference: str) -> float:
    """F1 over the bags of normalised tokens; no prediction (or no tokens on a side) scores 0."""
    pred, ref = normalize_tokens(prediction), normalize_tokens(reference)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def distinct_n(predictions, n: int) -> float:
    """Distinct n-grams over all predictions / all n-grams (0.0 when there are none)."""
    grams = [tuple(toks[i : i + n]) for toks in map(normalize_tokens, predictions) for i in range(len(toks) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def dialogue_metrics(predictions, references) -> dict:
    """Token F1 (mean), distinct-1/2, mean response and reference length (in tokens), and the
    number of empty generations (predictions that are None)."""
    count = max(1, len(references))
    return {
        "token_f1": sum(token_f1(p, r) for p, r in zip(predictions, references)) / count,
        "distinct_1": distinct_n(predictions, 1),
        "distinct_2": distinct_n(predictions, 2),
        "response_length": sum(len(normalize_tokens(p)) for p in predictions) / count,
        "reference_length": sum(len(normalize_tokens(r)) for r in references) / count,
        "empty_generations": sum(p is None for p in predictions),
    }

"""Answer-string metrics: SQuAD exact match and token F1, for any task that predicts free text.

The normalisation is the official SQuAD one (lower-case, drop punctuation, drop the articles
a/an/the, collapse whitespace). Scores are fractions in 0..1, like ptrun's other metrics; each
prediction is scored against its best-matching gold answer.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, remove punctuation and articles, collapse whitespace (official SQuAD order)."""
    text = str(text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """F1 over the bags of normalised tokens.

    Two answers that normalise to nothing count as a match (the SQuAD 2.0 rule for
    unanswerable questions); one empty side scores 0.
    """
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def best_over_golds(metric: Callable[[str, str], float], prediction: str, golds: Iterable[str]) -> float:
    """``metric`` against the best gold answer; no gold answers means "unanswerable" (gold "")."""
    golds = list(golds) or [""]
    return max(metric(prediction, gold) for gold in golds)


def squad_scores(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """Mean exact match and F1 of ``predictions`` against lists of gold answers (fractions 0..1)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        return {"exact_match": 0.0, "f1": 0.0}
    em = sum(best_over_golds(exact_match, p, golds) for p, golds in zip(predictions, references))
    f1 = sum(best_over_golds(token_f1, p, golds) for p, golds in zip(predictions, references))
    return {"exact_match": em / len(references), "f1": f1 / len(references)}

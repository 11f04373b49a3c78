"""Extractive answers: span labels from character offsets, the best span over sliding windows,
the span collator, and clipping the question side."""

from __future__ import annotations

from ptrun import echo

#: What the span head reads; everything else in a feature is bookkeeping.
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SPAN_LABELS = ("start_positions", "end_positions")


def span_positions(offsets: list, start_char: int, end_char: int) -> tuple[int, int]:
    """Token positions of the answer's first and last token in one window, or (0, 0) (the
    [CLS] token) when the answer is not wholly inside the window's context tokens."""
    context = [i for i, o in enumerate(offsets) if o is not None]
    if not context or offsets[context[0]][0] > start_char or offsets[context[-1]][1] < end_char:
        return 0, 0
    first, last = context[0], context[-1]
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1


def best_answer(context: str, windows, *, n_best: int = 20, max_answer_tokens: int = 30, allow_null: bool = False) -> str:
    """The answer text of one question from its windows' ``(start_logits, end_logits, offsets)``.

    The ``n_best`` top starts and ends of each window are paired; a span must lie inside the
    context (offsets not None), end at or after its start and span at most ``max_answer_tokens``
    tokens. The highest start+end logit over all windows wins. With ``allow_null`` the answer is
    "" when the [CLS] score (its lowest over the windows) beats every span, as for SQuAD 2.0.
    """
    import numpy as np

    best = None  # (score, start_char, end_char)
    null = None
    for start_logits, end_logits, offsets in windows:
        start_logits = np.asarray(start_logits, dtype=np.float64)
        end_logits = np.asarray(end_logits, dtype=np.float64)
        n = min(len(offsets), len(start_logits))
        null_score = float(start_logits[0] + end_logits[0])
        null = null_score if null is None else min(null, null_score)
        starts = np.argsort(-start_logits[:n], kind="stable")[:n_best]
        ends = np.argsort(-end_logits[:n], kind="stable")[:n_best]
        for s in starts:
            if offsets[s] is None:
                continue
            for e in ends:
                if offsets[e] is None or e < s or e - s + 1 > max_answer_tokens:
                    continue
                score = float(start_logits[s] + end_logits[e])
                if best is None or score > best[0]:
                    best = (score, offsets[s][0], offsets[e][1])
    if best is None or (allow_null and null is not None and null > best[0]):
        return ""
    return context[best[1] : best[2]]


class SpanCollator:
    """Pads the model inputs and span labels; drops bookkeeping (offsets, example index)."""

    keys = MODEL_INPUTS + SPAN_LABELS

    def __init__(self, tokenizer):
        from transformers import DataCollatorWithPadding

        self.pad = DataCollatorWithPadding(tokenizer)

    def __call__(self, features):
        return self.pad([{k: f[k] for k in self.keys if k in f} for f in features])


def clip(tokenizer, texts: list[str], limit: int) -> list[str]:
    """Cut texts to ``limit`` tokens (at a token boundary), warning once if any was cut."""
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    out, clipped = [], 0
    for text, ids, offsets in zip(texts, enc["input_ids"], enc["offset_mapping"]):
        if len(ids) > limit:
            text = text[: offsets[limit - 1][1]]
            clipped += 1
        out.append(text)
    if clipped:
        echo(
            f"warning: {clipped} question(s) with their template text were longer than {limit} tokens "
            "(half of --max-length) and were cut. Shorten the template or raise --max-length."
        )
    return out

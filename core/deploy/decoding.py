"""Token-level generation for the OpenAI-compatible endpoints: one decode loop for a batch of
requests, each with its own sampling settings, stops, log-probabilities and stream.

``model.generate`` takes one set of sampling settings per call and one random stream for the
whole batch, so a seeded request would sample differently depending on what it was batched
with. This loop keeps a :class:`torch.Generator` per request (the same seed gives the same
answer alone or in any batch), applies each request's temperature and top-p (:func:`sample`),
and stops each row on its own (an end token, a stop string, ``max_tokens``).
Prompts are left-padded, positions count real tokens only, and one key/value cache serves the
whole batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from collections.abc import Callable


@dataclass
class GenJob:
    """One prompt to continue, and what to report about it."""

    prompt: list[int]
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    #: Top-k log-probabilities to report for each generated token (None: none).
    logprobs: int | None = None
    #: Also report the prompt tokens' log-probabilities (``echo`` with ``logprobs``).
    prompt_logprobs: bool = False
    #: Called from the worker thread with each new piece of text as it is final.
    on_text: Callable[[str], None] | None = None
    #: Set (from any thread) when the client went away: the row stops at the next step.
    cancelled: bool = False
    # -- filled in by :func:`generate` ----------------------------------------------
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    #: The tokens ``token_logprobs`` describe: ``tokens`` and the end token that stopped it.
    logprob_ids: list[int] = field(default_factory=list)
    token_logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[dict] = field(default_factory=list)
    prompt_token_logprobs: list = field(default_factory=list)
    prompt_top_logprobs: list = field(default_factory=list)
    _emitted: int = 0  # characters of text already given to on_text (a retried batch re-runs a job)

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


def _top(logp, k: int, piece) -> dict:
    """``{token text: log-probability}`` of the ``k`` likeliest tokens (``logp``: a numpy row)."""
    import numpy as np

    ids = np.argpartition(-logp, k - 1)[:k]
    ids = ids[np.argsort(-logp[ids], kind="stable")]
    return {piece(int(i)): round(float(logp[i]), 6) for i in ids}


def _log_softmax(row):
    import numpy as np

    z = row - row.max()
    return z - np.log(np.exp(z).sum())


def sample(logits, temperature: float, top_p: float, u: float) -> int:
    """The token at ``u`` (uniform in [0, 1)) of the distribution ``softmax(logits / temperature)``
    cut to its smallest set of likeliest tokens holding ``top_p`` of the mass (nucleus sampling).

    On numpy: per-row torch calls over a 50k vocabulary cost milliseconds each on a busy CPU
    (every one a parallel region), which would dominate a small model's decode step."""
    import numpy as np

    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    order = None
    if top_p < 1:
        order = np.argsort(-p, kind="stable")
        p = p[order]
        p = p[: int(np.searchsorted(np.cumsum(p), top_p)) + 1]  # mass before the last one kept is < top_p
    cdf = np.cumsum(p)
    at = min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), len(cdf) - 1)
    return int(order[at]) if order is not None else at


def prompt_logprobs(model, job: GenJob, piece) -> None:
    """The log-probability of each prompt token given the ones before it (None for the first,
    as OpenAI writes it), and the top ``job.logprobs`` alternatives at each position."""
    import torch

    from ptrun.backends.kernels import model_device

    ids = torch.tensor([job.prompt], device=model_device(model))
    logits = model(input_ids=ids).logits[0, -len(job.prompt) :]  # past a soft prompt's virtual tokens
    logp = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
    job.prompt_token_logprobs = [None] + [round(float(logp[i, t]), 6) for i, t in enumerate(job.prompt[1:])]
    k = job.logprobs or 0
    job.prompt_top_logprobs = [None] + [_top(logp[i], k, piece) if k else {} for i in range(len(job.prompt) - 1)]


class _Row:
    """Decoding state of one job: its sampler, its text so far and where it stops."""

    def __init__(self, job: GenJob, tokenizer, stop_ids: set[int]):
        import torch

        self.job, self.tokenizer, self.stop_ids = job, tokenizer, stop_ids
        seed = job.seed if job.seed is not None else int.from_bytes(os.urandom(8), "little") >> 1
        self.generator = torch.Generator().manual_seed(seed)  # one stream per request
        self.hold = max((len(s) for s in job.stop), default=1) - 1
        job.tokens, job.text, job.finish_reason = [], "", None
        job.logprob_ids, job.token_logprobs, job.top_logprobs = [], [], []

    def choose(self, logits, piece) -> int:
        """Pick the next token from this row's logits (a numpy ``[vocab]`` row) and record it."""
        import torch

        job = self.job
        if job.greedy:
            token = int(logits.argmax())
        else:
            token = sample(logits, job.temperature, job.top_p, float(torch.rand((), generator=self.generator)))
        if job.logprobs is not None:
            logp = _log_softmax(logits)
            job.logprob_ids.append(token)
            job.token_logprobs.append(round(float(logp[token]), 6))
            job.top_logprobs.append(_top(logp, job.logprobs, piece) if job.logprobs else {})
        return token

    def add(self, token: int) -> bool:
        """Append ``token``; True when the row is done."""
        job = self.job
        if token in self.stop_ids:
            job.finish_reason = "stop"
            self._flush(job.text)
            return True
        job.tokens.append(token)
        text = self.tokenizer.decode(job.tokens, skip_special_tokens=True)
        for s in job.stop:
            at = text.find(s)
            if at >= 0:
                job.text, job.finish_reason = text[:at], "stop"
                self._flush(job.text)
                return True
        job.text = text
        if len(job.tokens) >= job.max_tokens:
            job.finish_reason = "length"
            self._flush(text)
            return True
        # Hold back an unfinished character, and what could still become a stop string.
        safe = len(text) - (1 if text.endswith("\ufffd") else 0)
        if job.stop:
            safe = min(safe, len(text) - self.hold)
        self._flush(text[: max(safe, 0)])
        return False

    def _flush(self, text: str) -> None:
        job = self.job
        if job.on_text is not None and len(text) > job._emitted:
            job.on_text(text[job._emitted :])
            job._emitted = len(text)


def generate(model, tokenizer, jobs: list[GenJob], stop_ids: list[int], on_token=None) -> None:
    """Continue every job's prompt (in place: ``tokens``, ``text``, ``finish_reason`` and the
    log-probabilities asked for). ``on_token()`` is called once per generated token, the end
    token apart (metrics)."""
    import torch

    from ptrun.backends.kernels import _cache_kwarg, _left_pad, accepts, model_device, uses_soft_prompt

    def piece(token_id: int) -> str:
        return tokenizer.decode([token_id])

    with torch.inference_mode():
        for job in jobs:
            if job.prompt_logprobs:
                prompt_logprobs(model, job, piece)
        rows = [_Row(job, tokenizer, set(stop_ids)) for job in jobs]
        for row in rows:
            if row.job.max_tokens == 0 or row.job.cancelled:
                row.job.finish_reason = "length"
        live = [i for i, row in enumerate(rows) if row.job.finish_reason is None]
        if not live:
            return
        dev = model_device(model)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids, attn = _left_pad([jobs[i].prompt for i in live], pad)
        ids, attn = ids.to(dev), attn.to(dev)
        positions = (attn.cumsum(-1) - 1).clamp(min=0)
        keep = {"logits_to_keep": 1} if accepts(model, "logits_to_keep") else {}
        # A soft-prompt model prepends its virtual tokens on every call, so it cannot continue a
        # cache: it reads the whole sequence at each step instead.
        recompute = uses_soft_prompt(model)
        if recompute:
            out = model(input_ids=ids, attention_mask=attn)
        else:
            out = model(input_ids=ids, attention_mask=attn, position_ids=positions, use_cache=True, **keep)
        active = list(range(len(live)))  # batch rows still generating
        steps = max(jobs[i].max_tokens for i in live)
        for _ in range(steps):
            logits = out.logits[:, -1].float().cpu().numpy()
            next_ids = torch.full((len(live),), pad, dtype=torch.long)
            still = []
            for b in active:
                row = rows[live[b]]
                token = row.choose(logits[b], piece)
                next_ids[b] = token
                if on_token is not None and token not in row.stop_ids:  # as usage counts them
                    on_token()
                if not (row.add(token) or row.job.cancelled):
                    still.append(b)
                elif row.job.finish_reason is None:
                    row.job.finish_reason = "cancelled"
            active = still
            if not active:
                return
            positions = positions[:, -1:] + 1
            attn = torch.cat([attn, torch.ones((len(live), 1), dtype=attn.dtype, device=dev)], dim=-1)
            if recompute:
                ids = torch.cat([ids, next_ids[:, None].to(dev)], dim=-1)
                out = model(input_ids=ids, attention_mask=attn)
                continue
            cache = getattr(out, "cache", None) or out.past_key_values
            out = model(input_ids=next_ids[:, None].to(dev), attention_mask=attn, position_ids=positions,
                        use_cache=True, **keep, **{_cache_kwarg(model): cache})

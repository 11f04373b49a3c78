"""Batched causal-LM kernels: scoring continuations (with a shared key/value cache) and generating.

Everything here works on token ids; no task, template or layout knowledge.
"""

from __future__ import annotations

import inspect
import math


def _left_pad(seqs: list[list[int]], pad_id: int):
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, width - len(s) :] = torch.tensor(s)
            mask[i, width - len(s) :] = 1
    return ids, mask


def _cache_kwarg(model) -> str:
    """``cache`` in recent transformers, ``past_key_values`` before (and in some wrappers)."""
    return "cache" if accepts(model, "cache") else "past_key_values"


def model_device(model):
    return next(model.parameters()).device


def accepts(model, name: str) -> bool:
    """Whether the (peft-unwrapped) model's forward takes the keyword ``name``."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return name in inspect.signature(base.forward).parameters


def prefix_cache(model, ids: list[int]):
    """The key/value cache of a token prefix that many prompts share (one forward pass)."""
    import torch

    dev = model_device(model)
    keep = {"logits_to_keep": 1} if accepts(model, "logits_to_keep") else {}
    with torch.no_grad():  # the cache is copied per batch, which needs plain (graph-free) tensors
        out = model(input_ids=torch.tensor([ids], device=dev), use_cache=True, **keep)
    return getattr(out, "cache", None) or out.past_key_values, len(ids)


def score_continuations(model, prefixes: list[list[int]], continuations: list[list[list[int]]], masks: list[list[list[bool]]], pad_id: int, shared=None):
    """Log-probability sums and token counts of each continuation after its example's prefix.

    ``prefixes[b]`` is computed once; its key/value cache is repeated for the example's
    continuations, which run together in one batch. ``masks[b][c][j]`` says whether token
    ``j`` of continuation ``c`` counts towards the score (tokens that merely finish the prompt
    do not). All examples of a call must have the same number of continuations. ``shared``,
    from :func:`prefix_cache`, is a prefix every prompt starts with, computed once per run:
    ``prefixes`` then hold what follows it.
    """
    import copy

    import torch

    dev = model_device(model)
    n_choices = len(continuations[0])
    ids, attn = _left_pad(prefixes, pad_id)
    ids, attn = ids.to(dev), attn.to(dev)
    # Only the last position's logits are needed: skip the output layer everywhere else.
    keep = {"logits_to_keep": 1} if accepts(model, "logits_to_keep") else {}
    if shared is None:
        positions = (attn.cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids=ids, attention_mask=attn, position_ids=positions, use_cache=True, **keep)
    else:
        base, length = shared
        cache = copy.deepcopy(base)
        cache.batch_repeat_interleave(len(prefixes))
        # Left padding now sits between the shared prefix and each prompt's rest: masked out,
        # with positions counting only real tokens.
        positions = length + (attn.cumsum(-1) - 1).clamp(min=0)
        attn = torch.cat([torch.ones((len(prefixes), length), dtype=attn.dtype, device=dev), attn], dim=-1)
        out = model(input_ids=ids, attention_mask=attn, position_ids=positions, use_cache=True,
                    **{_cache_kwarg(model): cache}, **keep)
    first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # predicts each continuation's first token
    flat = [c for per_example in continuations for c in per_example]
    flat_masks = [m for per_example in masks for m in per_example]
    width = max(len(c) for c in flat)
    cont = torch.full((len(flat), width), pad_id, dtype=torch.long)
    cont_mask = torch.zeros((len(flat), width), dtype=torch.long)
    score_mask = torch.zeros((len(flat), width), dtype=torch.bool)
    for i, (c, m) in enumerate(zip(flat, flat_masks)):
        cont[i, : len(c)] = torch.tensor(c)
        cont_mask[i, : len(c)] = 1
        score_mask[i, : len(m)] = torch.tensor(m, dtype=torch.bool)
    cont, cont_mask, score_mask = cont.to(dev), cont_mask.to(dev), score_mask.to(dev)
    logprobs = torch.zeros((len(flat), width), device=dev)
    rows = torch.arange(len(flat), device=dev)
    logprobs[:, 0] = first.repeat_interleave(n_choices, dim=0)[rows, cont[:, 0]]
    if width > 1:
        cache = getattr(out, "cache", None) or out.past_key_values
        cache.batch_repeat_interleave(n_choices)
        prefix_mask = attn.repeat_interleave(n_choices, dim=0)
        start = prefix_mask.sum(-1, keepdim=True)
        step_ids = cont[:, :-1]
        step_pos = start + torch.arange(width - 1, device=dev)
        mask = torch.cat([prefix_mask, cont_mask[:, :-1]], dim=-1)
        logits = model(input_ids=step_ids, attention_mask=mask, position_ids=step_pos, use_cache=True, **{_cache_kwarg(model): cache}).logits
        rest = torch.log_softmax(logits.float(), dim=-1).gather(-1, cont[:, 1:].unsqueeze(-1)).squeeze(-1)
        logprobs[:, 1:] = rest
    logprobs = logprobs * score_mask
    sums = logprobs.sum(-1).view(len(prefixes), n_choices).cpu()
    counts = score_mask.sum(-1).view(len(prefixes), n_choices).cpu()
    return sums, counts


def uses_soft_prompt(model) -> bool:
    """True for peft prompt-learning models, which prepend virtual tokens on every forward (so a
    key/value cache from an earlier call cannot be continued)."""
    config = getattr(model, "active_peft_config", None)
    return bool(getattr(config, "is_prompt_learning", False))


def score_full(model, prefixes, continuations, masks, pad_id):
    """Like :func:`score_continuations`, with the prompt recomputed for every choice (for soft-
    prompt models); same return values."""
    import torch

    dev = model_device(model)
    n_choices = len(continuations[0])
    rows = [p + c for p, conts in zip(prefixes, continuations) for c in conts]
    ids, attn = _left_pad(rows, pad_id)
    ids, attn = ids.to(dev), attn.to(dev)
    logits = model(input_ids=ids, attention_mask=attn).logits
    logits = logits[:, logits.size(1) - ids.size(1) :].float()  # drop virtual-token positions
    logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    sums = torch.zeros(len(rows))
    counts = torch.zeros(len(rows), dtype=torch.long)
    flat_masks = [m for per_example in masks for m in per_example]
    for i, (row, m) in enumerate(zip(rows, flat_masks)):
        n = len(m)  # the continuation is right-aligned: its tokens are the row's last n
        picked = torch.tensor(m, dtype=torch.bool)
        sums[i] = logp[i, -n:].cpu()[picked].sum()
        counts[i] = int(picked.sum())
    return sums.view(len(prefixes), n_choices), counts.view(len(prefixes), n_choices)


def generate_texts(model, tokenizer, prompts: list[list[int]], max_new_tokens: int, stop_ids: list[int]) -> list[str]:
    """Greedy continuations of token-id prompts (one batch), decoded without special tokens."""
    import torch

    dev = model_device(model)
    ids, attn = _left_pad(prompts, tokenizer.pad_token_id)
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids.to(dev),
            attention_mask=attn.to(dev),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=stop_ids,
            pad_token_id=tokenizer.pad_token_id,
        )
    ids = ids.to(out.device)
    # Generation from embeddings (soft-prompt models) returns only the new tokens.
    prompt_echoed = out.shape[1] > ids.shape[1] and torch.equal(out[:, : ids.shape[1]], ids)
    new = out[:, ids.shape[1] :] if prompt_echoed else out
    return [tokenizer.decode(row, skip_special_tokens=True) for row in new]


def stop_token_ids(tokenizer, model) -> list[int]:
    """Token ids that end a generation: the EOS of the tokenizer and model, and end-of-turn."""
    ids = set()
    for value in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    for token in ("<|im_end|>", "<|eot_id|>", "<|end|>"):
        tid = tokenizer.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tokenizer.unk_token_id:
            ids.add(tid)
    return sorted(ids)


def target_perplexity(model, features, collator, batch_size) -> dict:
    """Perplexity of the reference targets (the features' labels) under the model, teacher forced."""
    import torch

    from ptrun.backends.device import batches
    from ptrun.backends.layout import IGNORE

    items = [f for f in features if f.get("labels")]
    if not items:
        return {}
    total_nll, total_tokens = 0.0, 0
    dev = model_device(model)
    model.eval()
    with torch.inference_mode():
        for _chunk, batch in batches(items, collator, batch_size, "perplexity"):
            batch = {k: v.to(dev) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
            logits = logits[:, logits.size(1) - batch["input_ids"].size(1) :]  # soft-prompt positions
            labels = batch["labels"][:, 1:]
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE, reduction="sum"
            )
            total_nll += float(nll)
            total_tokens += int((labels != IGNORE).sum())
    return {"perplexity": math.exp(total_nll / max(1, total_tokens)), "reference_tokens": total_tokens}


def common_prefix(seqs: list[list[int]]) -> int:
    """Length of the token prefix all ``seqs`` share, leaving each at least one token of its own."""
    if not seqs:
        return 0
    first, n = seqs[0], min(len(s) for s in seqs) - 1
    for s in seqs[1:]:
        i = 0
        while i < n and s[i] == first[i]:
            i += 1
        n = i
    return max(0, n)

"""Causal language models: loading (GGUF included), chat formatting, training features with a
loss mask, scoring answer choices and generating.

Everything here is task-agnostic. A task describes an example as chat messages
(:meth:`ptrun.Task.lm_messages`); this module turns them into text, tokens and labels, and
turns generations back into predictions through :meth:`ptrun.Task.parse_generation`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from ptrun.errors import PtrunError

CACHE_ENV = "PTRUN_CACHE"
IGNORE = -100


# --------------------------------------------------------------------------- loading


def cache_root() -> Path:
    """Where converted models are kept: ``$PTRUN_CACHE``, else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ptrun"


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def converted_gguf(gguf: Path, echo=None) -> Path:
    """A transformers model folder (safetensors) converted from ``gguf``, cached by file hash.

    De-quantizing a GGUF file through transformers takes tens of seconds; the converted folder
    loads in about a second. The cache key is the GGUF file's SHA-256, so a changed file is
    converted again, and the folder appears atomically (a killed conversion leaves nothing).
    """
    gguf = Path(gguf)
    if not gguf.is_file():
        raise PtrunError(f"GGUF model file {gguf} does not exist.")
    target = cache_root() / "models" / f"{gguf.stem}-{file_sha256(gguf)[:16]}"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if echo:
        echo(f"Converting {gguf.name} to a transformers model (once; cached in {target})...")
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except ImportError as exc:
        raise PtrunError(f"Loading {gguf.name} needs the gguf package: {exc}", hint="pip install gguf") from None
    except (OSError, ValueError) as exc:
        raise PtrunError(f"Could not read the GGUF model {gguf}: {exc}") from None
    # The weights are de-quantized to float32 already; saved without the GGUF marker they load
    # as an ordinary model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").is_file():  # another process may have won the race
            raise
    if echo:
        echo(f"Converted in {time.perf_counter() - start:.0f} s.")
    return target


def load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise PtrunError(f"Could not load a tokenizer from {path}: {exc}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: Path):
    """``(model, tokenizer)`` for a causal LM folder, offline."""
    import transformers

    try:
        transformers.logging.set_verbosity_error()
        model = transformers.AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise PtrunError(f"Could not load a causal language model from {path}: {exc}") from None
    finally:
        transformers.logging.set_verbosity_warning()
    tokenizer = load_tokenizer(path)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def context_size(model, tokenizer) -> int:
    """The longest sequence the model takes (positions), bounded by the tokenizer's own limit."""
    limit = getattr(model.config, "max_position_embeddings", None) or 2048
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if tok_limit and tok_limit < 1_000_000:
        limit = min(limit, tok_limit)
    return int(limit)


# --------------------------------------------------------------------------- text layout


@dataclass
class Layout:
    """How messages become text: through the tokenizer's chat template, or concatenated."""

    chat: bool

    @classmethod
    def for_tokenizer(cls, tokenizer, chat: bool | None) -> "Layout":
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if chat and not has_template:
            raise PtrunError(
                "--chat: this model's tokenizer has no chat template.",
                hint="Use --no-chat to feed the rendered prompt as plain text.",
            )
        return cls(has_template if chat is None else chat)

    def segments(self, tokenizer, messages: list[dict], generation_prompt: bool = True) -> list[tuple[str, bool]]:
        """The text as (piece, trained) pairs; the pieces come from rendering, never from
        searching token ids, so the loss mask is exact however the text tokenizes.

        ``messages`` are ``{"role", "content"}`` dicts; an assistant message with ``"train":
        False`` is context, not a target. Without a trailing assistant message the text ends
        with the prompt for the model's answer (``generation_prompt``).
        """
        if not self.chat:
            out: list[tuple[str, bool]] = []
            for m in messages:
                trained = m["role"] == "assistant" and m.get("train", True)
                text = m["content"] + (tokenizer.eos_token if trained and tokenizer.eos_token else "")
                out.append((text, trained))
            return out
        out, done = [], ""
        chat = [{"role": m["role"], "content": m["content"]} for m in messages]

        def render(upto: int, gen: bool) -> str:
            return tokenizer.apply_chat_template(chat[:upto], tokenize=False, add_generation_prompt=gen)

        for i, m in enumerate(chat):
            if m["role"] != "assistant":
                continue
            prefix, full = render(i, True), render(i + 1, False)
            if not (prefix.startswith(done) and full.startswith(prefix)):
                raise PtrunError(
                    "This model's chat template does not render conversations turn by turn "
                    "(an earlier turn changes when a later one is added), so ptrun cannot tell "
                    "which tokens are the assistant's.",
                    hint="Use --no-chat.",
                )
            out.append((prefix[len(done) :], False))
            out.append((full[len(prefix) :], messages[i].get("train", True)))
            done = full
        if not chat or chat[-1]["role"] != "assistant":
            tail = render(len(chat), generation_prompt)
            out.append((tail[len(done) :], False))
        return [(t, trained) for t, trained in out if t]

    def add_special_tokens(self) -> bool:
        # A chat template writes every special token itself.
        return not self.chat


def prompt_messages(rendered, chat: bool) -> list[dict]:
    """The default messages of a rendered example: system block, the prompt as the user turn,
    and the target as the assistant turn."""
    messages = []
    if getattr(rendered, "system", None):
        messages.append({"role": "system", "content": rendered.system if chat else rendered.system + "\n\n"})
    messages.append({"role": "user", "content": rendered.input.strip() if chat else rendered.input})
    if rendered.target is not None:
        messages.append({"role": "assistant", "content": rendered.target.strip() if chat else rendered.target})
    return messages


def encode_segments(tokenizer, segments, layout: Layout) -> dict:
    """Token ids, attention mask and labels (-100 outside the trained pieces), from char spans."""
    text = "".join(t for t, _ in segments)
    spans, pos = [], 0
    for piece, trained in segments:
        if trained:
            spans.append((pos, pos + len(piece)))
        pos += len(piece)
    enc = tokenizer(text, add_special_tokens=layout.add_special_tokens(), return_offsets_mapping=True)
    labels = []
    for tid, (start, end) in zip(enc["input_ids"], enc["offset_mapping"]):
        # A token belongs to the target when it starts inside a trained span; special tokens
        # that the tokenizer adds itself (offsets 0,0) never are.
        trained = end > start and any(a <= start < b for a, b in spans)
        labels.append(tid if trained else IGNORE)
    return {"input_ids": list(enc["input_ids"]), "attention_mask": [1] * len(enc["input_ids"]), "labels": labels}


# --------------------------------------------------------------------------- batched inference


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
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _model_device(model):
    return next(model.parameters()).device


def _accepts(model, name: str) -> bool:
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return name in inspect.signature(base.forward).parameters


def prefix_cache(model, ids: list[int]):
    """The key/value cache of a token prefix that many prompts share (one forward pass)."""
    import torch

    dev = _model_device(model)
    keep = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
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

    dev = _model_device(model)
    n_choices = len(continuations[0])
    ids, attn = _left_pad(prefixes, pad_id)
    ids, attn = ids.to(dev), attn.to(dev)
    # Only the last position's logits are needed: skip the output layer everywhere else.
    keep = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
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

    dev = _model_device(model)
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

    dev = _model_device(model)
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

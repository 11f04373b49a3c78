"""How rendered messages become model text: the chat layout, and the loss mask from rendered pieces."""

from __future__ import annotations

from dataclasses import dataclass

from ptrun.errors import PtrunError

#: The label of positions that carry no loss (transformers' ignore index).
IGNORE = -100


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


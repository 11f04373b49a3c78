"""The causal-LM side of a served model: prompts for ``/v1/chat/completions`` and
``/v1/completions``, and a :class:`~ptrun.deploy.batching.Batcher` that runs the generation
jobs of requests that arrive together as one decode loop (:func:`ptrun.deploy.decoding.generate`).

A conversation is laid out the way the model was run: when the task reads conversations
(:meth:`ptrun.Task.chat_fields`, the dialogue task does) through the task's template and the
run's chat layout, exactly as ``ptrun chat`` and ``--eval-only`` prompt it; otherwise through the
tokenizer's own chat template.
"""

from __future__ import annotations

from ptrun.deploy.batching import Batcher
from ptrun.deploy.decoding import GenJob, generate
from ptrun.deploy.served import InputError
from ptrun.errors import DataError


class LMServing:
    """Generation for one loaded causal-LM :class:`~ptrun.deploy.served.ServedModel`."""

    def __init__(self, served, batching: dict, metrics=None):
        from ptrun.backends.kernels import stop_token_ids

        self.served = served
        p = served.predictor
        self.predictor, self.tokenizer, self.model = p, p.tokenizer, p.model
        self.stop_ids = stop_token_ids(p.tokenizer, p.model)
        self.vocab = max(len(p.tokenizer), int(getattr(p.model.config, "vocab_size", 0) or 0))
        self.default_max_tokens = p.cfg.max_new_tokens or p.task.max_new_tokens
        self.tokens_counter = metrics.tokens.labels(served.name) if metrics is not None else None
        observe = metrics.observer(f"{served.name}/generate") if metrics is not None else {}
        self.batcher = Batcher(self.run_batch, name=f"ptrun-generate-{served.name}", **batching, **observe)

    @property
    def limit(self) -> int:
        """Tokens a prompt and its completion may take together."""
        return self.predictor.backend.limit

    # -- prompts --------------------------------------------------------------------
    def chat_prompt(self, messages: list[dict], max_tokens: int) -> tuple[list[int], list[str]]:
        """Token ids of the conversation laid out for the model, ending with the assistant's
        turn to speak, and the stop strings its layout implies."""
        p = self.predictor
        fields = p.task.chat_fields(messages)
        if fields is None:
            return self._template_prompt(messages, max_tokens), []
        try:
            (example,) = p.examples([fields])
            fitted = p.backend.fit_prompt(p.tokenizer, example, p.renderer.render(example), max_tokens)
        except DataError as exc:
            message = exc.message
            raise InputError(f"messages: {message[0].lower() + message[1:]}", "messages") from None
        return fitted.ids, list(p.task.chat_stops(p.backend.layout.chat))

    def _template_prompt(self, messages, max_tokens) -> list[int]:
        tok = self.tokenizer
        if not getattr(tok, "chat_template", None):
            raise InputError(f"model '{self.served.name}' has no chat template, so it cannot lay out a conversation; "
                             "send the text to /v1/completions instead", "messages")
        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
        text = tok.apply_chat_template(plain, tokenize=False, add_generation_prompt=True)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        self.check_length(ids, max_tokens, "messages")
        return ids

    def completion_prompts(self, prompt) -> list[list[int]]:
        """``prompt`` (a string, a list of strings, token ids or lists of token ids) as token-id
        prompts; a bad one raises InputError naming it."""
        if isinstance(prompt, str):
            return [self._encode(prompt, "prompt")]
        if not isinstance(prompt, list) or not prompt:
            raise InputError("field 'prompt' must be a string, a list of strings, a list of token ids or a list of "
                             "lists of token ids, and not empty", "prompt")
        if all(_is_id(t) for t in prompt):
            return [self._ids(prompt, "prompt")]
        out = []
        for i, item in enumerate(prompt):
            where = f"prompt[{i}]"
            if isinstance(item, str):
                out.append(self._encode(item, where))
            elif isinstance(item, list) and item and all(_is_id(t) for t in item):
                out.append(self._ids(item, where))
            else:
                raise InputError(f"{where} must be a string or a non-empty list of token ids (integers)", where)
        return out

    def _encode(self, text: str, where: str) -> list[int]:
        ids = self.tokenizer(text)["input_ids"]
        if not ids:
            raise InputError(f"{where} is empty: there is nothing to continue", where)
        return ids

    def _ids(self, ids: list[int], where: str) -> list[int]:
        bad = next((t for t in ids if not 0 <= t < self.vocab), None)
        if bad is not None:
            raise InputError(f"{where}: token id {bad} is outside the model's vocabulary (0..{self.vocab - 1})", where)
        return list(ids)

    def check_length(self, ids: list[int], max_tokens: int, where: str) -> None:
        if len(ids) + max_tokens > self.limit:
            raise InputError(f"{where} is {len(ids)} tokens; with max_tokens {max_tokens} that is more than the "
                             f"{self.limit} tokens this model takes; shorten it or lower max_tokens", where)

    # -- generating -----------------------------------------------------------------
    def submit(self, jobs: list[GenJob]):
        """Queue one request's jobs; the future resolves to the same jobs, filled in."""
        return self.batcher.submit(jobs, len(jobs))

    def run_batch(self, requests: list[list[GenJob]]) -> list[list[GenJob]]:
        jobs = [job for request in requests for job in request]
        count = self.tokens_counter.inc if self.tokens_counter is not None else None
        generate(self.model, self.tokenizer, jobs, self.stop_ids, on_token=count)
        return requests

    def close(self) -> None:
        self.batcher.close()


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

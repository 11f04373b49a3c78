"""OpenAI-compatible endpoints for causal LMs: ``POST /v1/chat/completions`` and
``POST /v1/completions`` (the legacy one, with ``echo`` and ``logprobs``, as evaluation harnesses
use it for log-likelihoods).

Requests are checked field by field before anything is queued (a wrong one is 422 naming the
field), then their generation jobs go through the model's generation batcher. ``stream: true``
answers server-sent events, one ``data: {chunk}`` per piece of text and ``data: [DONE]`` at the
end; a client that goes away stops its row of the batch.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
import uuid

from fastapi import Request
from fastapi.responses import StreamingResponse

from ptrun.deploy.batching import Closed, QueueFull
from ptrun.deploy.decoding import GenJob
from ptrun.deploy.served import InputError
from ptrun.deploy.server import ApiError, _pick, log, read_json

ROLES = ("system", "user", "assistant")
SHARED = ("model", "max_tokens", "temperature", "top_p", "seed", "stop", "stream", "stream_options", "n", "user",
          "presence_penalty", "frequency_penalty")
CHAT_FIELDS = SHARED + ("messages", "max_completion_tokens")
COMPLETION_FIELDS = SHARED + ("prompt", "echo", "logprobs", "best_of")
#: Most alternatives ``logprobs`` may ask for per token.
MAX_LOGPROBS = 20


def add_routes(app, served: dict, max_body_bytes: int, max_inputs: int) -> None:
    """Register the two endpoints on ``app`` (the FastAPI app of :func:`ptrun.deploy.server.create_app`)."""

    async def body_of(request: Request, fields: tuple) -> tuple[dict, object]:
        body = await read_json(request, max_body_bytes)
        if not isinstance(body, dict):
            raise ApiError(422, "the body must be a JSON object")
        for key in body:
            if key not in fields:
                raise ApiError(422, f"unknown or unsupported field '{key}'", key)
        model = _pick(served, body.get("model"))
        if not model.ready.is_set():
            why = f"model '{model.name}' failed to load" if model.error else f"model '{model.name}' is still loading"
            raise ApiError(503, why, "model", {"Retry-After": "5"})
        if model.lm is None:
            raise ApiError(422, f"model '{model.name}' is an {model.predictor.backend.kind} model; this endpoint needs a "
                           "causal language model (use /v1/predict)", "model")
        return body, model

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        body, model = await body_of(request, CHAT_FIELDS)
        options = _sampling(body, model.lm.default_max_tokens, "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens")
        messages = _messages(body.get("messages"))
        try:
            prompt, stops = model.lm.chat_prompt(messages, options["max_tokens"])
        except InputError as exc:
            raise ApiError(422, exc.message, exc.param) from None
        job = GenJob(prompt, **{**options, "stop": options["stop"] + stops})
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model.name}
        if body.get("stream"):
            return _stream(model, job, head, "chat.completion.chunk", _include_usage(body), chat=True)
        await _run(model, [job])
        return {**head, "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": job.text}, "logprobs": None,
                             "finish_reason": job.finish_reason}],
                "usage": _usage([job])}

    @app.post("/v1/completions")
    async def completions(request: Request):
        body, model = await body_of(request, COMPLETION_FIELDS)
        options = _sampling(body, 16, "max_tokens", zero_ok=True)
        echo = _flag(body, "echo")
        logprobs = body.get("logprobs")
        if logprobs is not None and (not _is_int(logprobs) or not 0 <= logprobs <= MAX_LOGPROBS):
            raise ApiError(422, f"field 'logprobs' must be an integer from 0 to {MAX_LOGPROBS} (or null)", "logprobs")
        if body.get("best_of", 1) != 1:
            raise ApiError(422, "field 'best_of' must be 1 (one completion per prompt)", "best_of")
        if options["max_tokens"] == 0 and not echo:
            raise ApiError(422, "max_tokens 0 returns nothing without echo: set echo true (or max_tokens above 0)", "max_tokens")
        if "prompt" not in body:
            raise ApiError(422, "missing field 'prompt': a string, a list of strings or token ids", "prompt")
        try:
            prompts = model.lm.completion_prompts(body["prompt"])
            if len(prompts) > max_inputs:
                raise InputError(f"too many prompts: {len(prompts)}, at most {max_inputs} per request (--max-inputs)", "prompt")
            for i, ids in enumerate(prompts):
                model.lm.check_length(ids, options["max_tokens"], "prompt" if len(prompts) == 1 else f"prompt[{i}]")
        except InputError as exc:
            raise ApiError(422, exc.message, exc.param) from None
        jobs = [GenJob(ids, **options, logprobs=logprobs, prompt_logprobs=echo and logprobs is not None) for ids in prompts]
        head = {"id": f"cmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": model.name}
        if body.get("stream"):
            if len(jobs) != 1 or logprobs is not None or echo:
                raise ApiError(422, "stream: true takes one prompt, without echo or logprobs", "stream")
            return _stream(model, jobs[0], head, "text_completion", _include_usage(body), chat=False)
        await _run(model, jobs)
        tokenizer = model.lm.tokenizer
        choices = [{"index": i, "text": (tokenizer.decode(job.prompt) if echo else "") + job.text,
                    "logprobs": _legacy_logprobs(job, tokenizer, echo) if logprobs is not None else None,
                    "finish_reason": job.finish_reason} for i, job in enumerate(jobs)]
        return {**head, "object": "text_completion", "choices": choices, "usage": _usage(jobs)}


# -- request fields ---------------------------------------------------------------------
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _flag(body, name) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(422, f"field '{name}' must be true or false", name)
    return value


def _sampling(body: dict, default_max: int, max_name: str, zero_ok: bool = False) -> dict:
    """max_tokens, temperature, top_p, seed and stop of a request, checked."""
    max_tokens = body.get(max_name, default_max)
    if max_tokens is None:
        max_tokens = default_max
    if not _is_int(max_tokens) or max_tokens < (0 if zero_ok else 1):
        raise ApiError(422, f"field '{max_name}' must be an integer of at least {0 if zero_ok else 1}", max_name)
    temperature = body.get("temperature", 1.0)
    temperature = 1.0 if temperature is None else temperature
    if not _number(temperature) or not 0 <= temperature <= 2:
        raise ApiError(422, "field 'temperature' must be a number from 0 to 2 (0: greedy)", "temperature")
    top_p = body.get("top_p", 1.0)
    top_p = 1.0 if top_p is None else top_p
    if not _number(top_p) or not 0 < top_p <= 1:
        raise ApiError(422, "field 'top_p' must be a number above 0 and at most 1", "top_p")
    seed = body.get("seed")
    if seed is not None and not _is_int(seed):
        raise ApiError(422, "field 'seed' must be an integer", "seed")
    stop = body.get("stop")
    stop = [] if stop is None else [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
        raise ApiError(422, "field 'stop' must be a non-empty string or a list of at most 4 of them", "stop")
    if body.get("n", 1) not in (1, None):
        raise ApiError(422, "field 'n' must be 1 (one choice per request)", "n")
    for name in ("presence_penalty", "frequency_penalty"):
        if body.get(name) not in (0, None):
            raise ApiError(422, f"field '{name}' is not supported (only 0)", name)
    if not isinstance(body.get("user", ""), str):
        raise ApiError(422, "field 'user' must be a string", "user")
    _flag(body, "stream")
    return {"max_tokens": max_tokens, "temperature": float(temperature), "top_p": float(top_p), "seed": seed, "stop": stop}


def _include_usage(body) -> bool:
    options = body.get("stream_options") or {}
    if not isinstance(options, dict) or not isinstance(options.get("include_usage", False), bool):
        raise ApiError(422, 'field \'stream_options\' must be an object like {"include_usage": true}', "stream_options")
    return options.get("include_usage", False)


def _messages(messages) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise ApiError(422, "field 'messages' must be a non-empty list of {\"role\", \"content\"} objects", "messages")
    out = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise ApiError(422, f"{where} must be an object with 'role' and 'content'", where)
        if m.get("role") not in ROLES:
            raise ApiError(422, f"{where}.role must be one of {', '.join(ROLES)}, not {m.get('role')!r}", f"{where}.role")
        content = m.get("content")
        if isinstance(content, list):  # content parts: only text ones
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
                raise ApiError(422, f"{where}.content: only text parts ({{\"type\": \"text\", \"text\": ...}}) are supported",
                               f"{where}.content")
            content = "".join(p["text"] for p in content)
        if not isinstance(content, str) or not content.strip():
            raise ApiError(422, f"{where}.content must be a non-empty string", f"{where}.content")
        out.append({"role": m["role"], "content": content})
    if out[-1]["role"] != "user":
        raise ApiError(422, f"messages[{len(out) - 1}]: the last message must be the user's (the model answers it)",
                       f"messages[{len(out) - 1}].role")
    return out


# -- running ----------------------------------------------------------------------------
def _submit(model, jobs):
    try:
        return model.lm.submit(jobs)
    except QueueFull as exc:
        raise ApiError(429, f"too many requests: {exc}; retry later", headers={"Retry-After": "1"}) from None
    except Closed:
        raise ApiError(503, "the server is shutting down") from None


def _failure(model, exc) -> ApiError:
    log(f"{model.name}: a generation failed inside the model:\n{''.join(traceback.format_exception(exc))}")
    return ApiError(500, f"the model failed on this request: {type(exc).__name__}: {exc}")


async def _run(model, jobs) -> None:
    future = _submit(model, jobs)
    try:
        await asyncio.wrap_future(future)
    except Exception as exc:
        raise _failure(model, exc) from None


def _usage(jobs) -> dict:
    prompt = sum(len(j.prompt) for j in jobs)
    completion = sum(len(j.tokens) for j in jobs)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _legacy_logprobs(job: GenJob, tokenizer, echo: bool) -> dict:
    """OpenAI's legacy ``logprobs`` object: token texts, their log-probabilities, the top
    alternatives and each token's character offset in the returned text."""
    ids = job.logprob_ids
    tokens = [tokenizer.decode([t]) for t in ids]
    token_logprobs, top = list(job.token_logprobs), list(job.top_logprobs)
    if echo:
        tokens = [tokenizer.decode([t]) for t in job.prompt] + tokens
        token_logprobs = job.prompt_token_logprobs + token_logprobs
        top = job.prompt_top_logprobs + top
    offsets, at = [], 0
    for t in tokens:
        offsets.append(at)
        at += len(t)
    return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top, "text_offset": offsets}


def _stream(model, job: GenJob, head: dict, kind: str, include_usage: bool, chat: bool) -> StreamingResponse:
    """Server-sent events of one job: its text as it comes, then the finish reason and [DONE]."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    job.on_text = lambda text: loop.call_soon_threadsafe(queue.put_nowait, ("text", text))
    future = _submit(model, [job])
    future.add_done_callback(lambda f: loop.call_soon_threadsafe(queue.put_nowait, ("done", f)))

    def event(payload) -> str:
        return f"data: {json.dumps(payload)}\n\n"

    def chunk(text=None, finish=None, role=False) -> str:
        if chat:
            delta = {"role": "assistant", "content": ""} if role else ({"content": text} if text is not None else {})
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
        return event({**head, "object": kind, "choices": [choice]})

    async def events():
        try:
            if chat:
                yield chunk(role=True)
            while True:
                what, value = await queue.get()
                if what == "text":
                    yield chunk(value)
                    continue
                if value.exception() is not None:
                    err = _failure(model, value.exception())
                    yield event({"error": {"message": err.message, "type": "server_error", "param": None}})
                else:
                    yield chunk(finish=job.finish_reason)
                    if include_usage:
                        yield event({**head, "object": kind, "choices": [], "usage": _usage([job])})
                break
            yield "data: [DONE]\n\n"
        finally:
            job.cancelled = True  # the client went away (or all is sent): stop the row

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

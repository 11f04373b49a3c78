"""The HTTP server of ``ptrun serve``: a FastAPI app over :class:`~ptrun.deploy.served.ServedModel`s.

Endpoints: ``GET /health`` (alive), ``GET /ready`` (every model loaded and warmed up),
``GET /v1/models``, ``POST /v1/predict``, ``GET /metrics``, and for causal LMs the OpenAI-style
``POST /v1/chat/completions`` and ``POST /v1/completions`` (:mod:`ptrun.deploy.openai_api`). Every error is a JSON body
``{"error": {"message", "type", "param"}}`` as OpenAI's API writes them; no response ever holds
a traceback. Models load in a background thread once the server listens, so ``/health``
answers at once and ``/ready`` says 503 until they are warm.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import sys
import threading
import time
import traceback
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from ptrun.deploy.batching import Closed, QueueFull
from ptrun.deploy.metrics import Metrics
from ptrun.deploy.served import InputError, input_error
from ptrun.errors import DataError

ENDPOINTS = ("/health", "/ready", "/v1/models", "/v1/predict", "/metrics", "/v1/chat/completions", "/v1/completions")
TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
         405: "invalid_request_error", 413: "invalid_request_error", 422: "invalid_request_error",
         429: "rate_limit_error", 500: "server_error", 503: "unavailable_error"}


class ApiError(Exception):
    """An error answered as ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, message: str, param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.headers = status, message, param, headers


def error_response(code: int, message: str, param: str | None = None, headers: dict | None = None, **extra):
    body = {"error": {"message": message, "type": TYPES.get(code, "invalid_request_error"), "param": param}, **extra}
    return JSONResponse(body, status_code=code, headers=headers)


def log(message: str) -> None:
    print(f"ptrun serve: {message}", file=sys.stderr, flush=True)


async def read_json(request: Request, limit: int):
    """The request body parsed as JSON: 413 past ``limit`` bytes, 400 when it is not JSON."""
    too_big = ApiError(413, f"the request body is larger than {limit} bytes (--max-body-bytes)")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    try:
        return json.loads(bytes(body))
    except UnicodeDecodeError:
        raise ApiError(400, "malformed JSON: the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def create_app(models: list, *, api_key: str | None = None, max_inputs: int = 256, max_body_bytes: int = 1_000_000,
               on_fatal=None) -> FastAPI:
    """The app serving ``models`` (ServedModels, not yet loaded). ``on_fatal(message)`` is called
    when a model fails to load (``ptrun serve`` then exits 1)."""
    served = {m.name: m for m in models}
    metrics = Metrics()
    for m in models:
        m.metrics = metrics
    stopping = threading.Event()
    worker = str(os.getpid())

    def load_all():
        for m in models:
            if stopping.is_set():
                return
            log(f"loading {m.name} ({m.path})")
            try:
                m.load()
            except Exception as exc:  # a PtrunError explains itself; anything else is reported too
                m.error = exc.format() if hasattr(exc, "format") else f"{type(exc).__name__}: {exc}"
                log(f"{m.name} failed to load: {m.error}")
                if on_fatal is not None:
                    on_fatal(m.error)
                return
            log(f"{m.name} is ready")

    @asynccontextmanager
    async def lifespan(app):
        threading.Thread(target=load_all, name="ptrun-serve-loader", daemon=True).start()
        yield
        stopping.set()
        await asyncio.to_thread(lambda: [m.close() for m in models])  # finish what is queued

    app = FastAPI(title="ptrun serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.param, exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        message = f"no such endpoint: {request.method} {request.url.path}" if exc.status_code in (404, 405) else str(exc.detail)
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.middleware("http")
    async def guard(request: Request, call_next):
        start = time.perf_counter()
        path = request.url.path
        if api_key is not None and path != "/health" and not _authorized(request, api_key):
            response = error_response(401, "missing or wrong API key: send the header 'Authorization: Bearer KEY'")
        else:
            try:
                response = await call_next(request)
            except Exception as exc:  # never a traceback in a response; the log has it
                log(f"internal error on {request.method} {path}:\n{traceback.format_exc()}")
                response = error_response(500, f"internal server error: {type(exc).__name__}")
        metrics.request(path if path in ENDPOINTS else "other", response.status_code, time.perf_counter() - start)
        response.headers["x-ptrun-worker"] = worker  # which replica answered (--workers, load balancers)
        return response

    @app.get("/health")
    async def health():
        torch = sys.modules.get("torch")  # imported by the model loader; /health never waits for it
        return {"status": "ok", **({"torch_threads": torch.get_num_threads()} if torch else {})}

    @app.get("/ready")
    async def ready():
        states = {m.name: "ready" if m.ready.is_set() else (f"failed: {m.error}" if m.error else "loading") for m in models}
        if all(m.ready.is_set() for m in models):
            return {"status": "ready", "models": states}
        waiting = ", ".join(name for name, state in states.items() if state != "ready")
        return error_response(503, f"not ready: {waiting}", status="loading", models=states)

    @app.get("/v1/models")
    async def list_models():
        return {"object": "list", "data": [m.info() for m in models]}

    @app.get("/metrics")
    async def get_metrics():
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.post("/v1/predict")
    async def predict(request: Request):
        body = await read_json(request, max_body_bytes)
        if not isinstance(body, dict):
            raise ApiError(422, 'the body must be a JSON object: {"model": ..., "inputs": [{...}, ...]}')
        for key in body:
            if key not in ("model", "inputs"):
                raise ApiError(422, f"unknown field '{key}' (fields: model, inputs)", key)
        model = _pick(served, body.get("model"))
        inputs = _inputs(body.get("inputs"), max_inputs)
        if not model.ready.is_set():
            why = f"model '{model.name}' failed to load" if model.error else f"model '{model.name}' is still loading"
            raise ApiError(503, why, "model", {"Retry-After": "5"})
        try:
            examples = model.examples(inputs)
        except InputError as exc:
            raise ApiError(422, exc.message, exc.param) from None
        try:
            future = model.batcher.submit(examples, len(examples))
        except QueueFull as exc:
            raise ApiError(429, f"too many requests: {exc}; retry later", headers={"Retry-After": "1"}) from None
        except Closed:
            raise ApiError(503, "the server is shutting down") from None
        try:
            records = await asyncio.wrap_future(future)
        except DataError as exc:  # an input the model cannot take (too long, say)
            err = input_error(exc)
            raise ApiError(422, err.message, err.param) from None
        except Exception as exc:
            log(f"{model.name}: a request failed inside the model:\n{traceback.format_exc()}")
            raise ApiError(500, f"the model failed on this request: {type(exc).__name__}: {exc}") from None
        return {"model": model.name, "predictions": records}

    from ptrun.deploy.openai_api import add_routes

    add_routes(app, served, max_body_bytes, max_inputs)
    app.state.models = served
    app.state.metrics = metrics
    return app


def _authorized(request: Request, api_key: str) -> bool:
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


def _pick(served: dict, name):
    if name is None:
        if len(served) == 1:
            return next(iter(served.values()))
        raise ApiError(422, f"missing field 'model': this server serves several ({', '.join(served)})", "model")
    if not isinstance(name, str):
        raise ApiError(422, f"field 'model' must be a string, not {type(name).__name__}", "model")
    if name not in served:
        raise ApiError(404, f"model '{name}' not found; this server serves: {', '.join(served)}", "model")
    return served[name]


def _inputs(inputs, max_inputs: int) -> list:
    if inputs is None:
        raise ApiError(422, "missing field 'inputs': a list of inputs, each a JSON object of fields", "inputs")
    if not isinstance(inputs, list):
        raise ApiError(422, f"field 'inputs' must be a list, not {type(inputs).__name__}", "inputs")
    if not inputs:
        raise ApiError(422, "field 'inputs' is empty", "inputs")
    if len(inputs) > max_inputs:
        raise ApiError(422, f"too many inputs: {len(inputs)}, at most {max_inputs} per request (--max-inputs)", "inputs")
    for i, fields in enumerate(inputs):
        if not isinstance(fields, dict):
            raise ApiError(422, f"inputs[{i}] must be a JSON object of fields, not {type(fields).__name__}", f"inputs[{i}]")
    return inputs

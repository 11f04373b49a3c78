"""``ptrun serve``: serve models over HTTP (FastAPI on uvicorn, imported only when it runs)."""

from __future__ import annotations

import signal

import click

from ptrun.cli.options import click_option
from ptrun.config import cli_fields
from ptrun.deploy.served import LOAD_OPTIONS, default_name
from ptrun.errors import PtrunError


def _models(model, extra) -> list[tuple[str, str]]:
    """``(name, path)`` of MODEL and each ``--model [NAME=]PATH``."""
    pairs = [(default_name(model), model)] if model else []
    for spec in extra:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = default_name(spec), spec
        if not name or not path:
            raise click.UsageError(f"--model {spec!r}: expected NAME=PATH (or a PATH).")
        pairs.append((name, path))
    if not pairs:
        raise click.UsageError("Give a MODEL to serve (or one or more --model NAME=PATH).")
    names = [n for n, _ in pairs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise click.UsageError(f"Two models are named {', '.join(twice)}; name them with --model NAME=PATH.")
    return pairs


def _check(pairs, task) -> None:
    """Refuse, before the server starts, a model that cannot be found or has no task."""
    from ptrun import models

    for name, path in pairs:
        resolved = models.resolve(path)
        if task is None and resolved.run_dir is None:
            raise PtrunError(f"Model '{name}' ({path}) is not a run folder, so its task must be given.", hint="Pass --task.")


@click.command()
@click.argument("model", required=False)
@click.option("--model", "extra_models", multiple=True, metavar="NAME=PATH",
              help="Another model to serve, selected by the request's `model` field (repeatable).")
@click.option("--task", help="The task of models that are not run folders (zero/few-shot).")
@click.option("--template", "-t", help="Template name or .j2 path [default: a run's own, else the task's].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--max-batch-size", default=32, show_default=True, type=click.IntRange(1),
              help="Most inputs run as one model call (several requests batched together).")
@click.option("--max-wait-ms", default=5.0, show_default=True, type=click.FloatRange(0),
              help="How long a batch waits for more requests.")
@click.option("--max-queue", default=256, show_default=True, type=click.IntRange(1),
              help="Most inputs waiting per model; past it, 429 with Retry-After.")
@click.option("--max-inputs", default=256, show_default=True, type=click.IntRange(1), help="Most inputs per request.")
@click.option("--max-body-bytes", default=1_000_000, show_default=True, type=click.IntRange(1),
              help="Largest request body; past it, 413.")
@click.option("--api-key", envvar="PTRUN_API_KEY", metavar="KEY",
              help="Require 'Authorization: Bearer KEY' on every endpoint but /health [default: $PTRUN_API_KEY].")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1),
              help="Server processes on the one port, each with its own copy of the models (scale out on one machine).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(model, extra_models, task, template, host, port, max_batch_size, max_wait_ms, max_queue, max_inputs,
          max_body_bytes, api_key, workers, log_level, **options):
    """Serve MODEL (a run folder, or an alias or model folder with --task) over HTTP.

    \b
    GET  /health          alive (no API key needed)
    GET  /ready           200 once every model is loaded and warmed up, else 503
    GET  /v1/models       the models: name, task, template, method, model kind
    POST /v1/predict      {"model": NAME, "inputs": [{...fields...}, ...]} -> {"model", "predictions"}
    POST /v1/chat/completions, /v1/completions   OpenAI's API, for causal LMs
    GET  /metrics         Prometheus metrics
    Requests that arrive together run as one batch (--max-batch-size, --max-wait-ms).
    """
    pairs = _models(model, extra_models)
    if max_inputs > max_queue:
        raise click.UsageError(f"--max-inputs {max_inputs} is larger than --max-queue {max_queue}: such a request could never be queued.")
    _check(pairs, task)
    try:
        import uvicorn

        from ptrun.deploy.server import create_app
    except ImportError as exc:
        raise PtrunError(f"ptrun serve needs FastAPI and uvicorn ({exc}).", hint="Install them with: pip install 'ptrun[serve]'") from None
    from ptrun.deploy.served import ServedModel

    device = options.pop("device")
    batching = dict(max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queue=max_queue)
    if workers > 1:
        from ptrun.deploy.workers import run_workers

        specs = [dict(name=name, path=path, task=task, template=template, device=device, options=options, batching=batching)
                 for name, path in pairs]
        failure = run_workers(workers, specs, dict(api_key=api_key or None, max_inputs=max_inputs, max_body_bytes=max_body_bytes),
                              dict(host=host, port=port, log_level=log_level, access_log=False))
        if failure:
            raise PtrunError(f"A model failed to load: {failure}")
        return
    served = [ServedModel(name, path, task, template, device, options, batching) for name, path in pairs]
    failed: list[str] = []

    def on_fatal(message):
        failed.append(message)
        server.should_exit = True

    app = create_app(served, api_key=api_key or None, max_inputs=max_inputs, max_body_bytes=max_body_bytes, on_fatal=on_fatal)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False))
    # uvicorn re-raises the SIGTERM it shut down on once it is done; a graceful stop exits 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    server.run()
    if failed:
        raise PtrunError(f"A model failed to load: {failed[0]}")
    if not server.started:
        raise PtrunError(f"The server could not start on {host}:{port} (see the log above).")


for _field in cli_fields():
    if _field.name in LOAD_OPTIONS or _field.name == "device":
        serve.params.append(click_option(_field, None))

COMMANDS = (serve,)

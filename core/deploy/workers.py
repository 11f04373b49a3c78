"""``ptrun serve --workers N``: N server processes sharing one listening socket.

The server keeps no state between requests, so replicas need nothing from each other: uvicorn's
supervisor starts N worker processes (each loads its own copy of the models and batches its own
requests) and the kernel spreads the connections over them. Each worker gets its share of the
cores for torch (``OMP_NUM_THREADS``, unless set): torch's default of one thread per core in every
worker oversubscribes the machine, and spinning OpenMP threads then slow every worker down many
times over. The parent passes what to serve in an environment variable, as the workers are fresh
interpreters; a worker whose model fails to load writes why to a file and stops the parent, which
then exits 1 with that message.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from pathlib import Path

SPEC_ENV = "PTRUN_SERVE_SPEC"


def app_from_env():
    """The app of one worker, from the spec the parent put in ``$PTRUN_SERVE_SPEC``."""
    from ptrun.deploy.served import ServedModel
    from ptrun.deploy.server import create_app

    spec = json.loads(os.environ[SPEC_ENV])
    served = [ServedModel(**m) for m in spec["models"]]

    def on_fatal(message):
        Path(spec["failed"]).write_text(message, encoding="utf-8")
        os.kill(os.getppid(), signal.SIGTERM)

    return create_app(served, api_key=spec["api_key"], max_inputs=spec["max_inputs"],
                      max_body_bytes=spec["max_body_bytes"], on_fatal=on_fatal)


def threads_per_worker(workers: int) -> int:
    """The cores this process may use, shared out among ``workers`` processes (at least one each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


def run_workers(workers: int, models: list[dict], app_options: dict, server_options: dict) -> str | None:
    """Serve with ``workers`` processes until SIGTERM or SIGINT; the failure message of a model
    that could not load, else None. ``models`` are ServedModel keyword arguments."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if not os.environ.get("OMP_NUM_THREADS"):
        os.environ["OMP_NUM_THREADS"] = str(threads_per_worker(workers))
    print(f"ptrun serve: {workers} workers with {os.environ['OMP_NUM_THREADS']} torch thread(s) each "
          "(OMP_NUM_THREADS sets it)", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="ptrun-serve-") as tmp:
        failed = Path(tmp) / "failed"
        os.environ[SPEC_ENV] = json.dumps({"models": models, "failed": str(failed), **app_options})
        config = uvicorn.Config("ptrun.deploy.workers:app_from_env", factory=True, workers=workers, **server_options)
        sock = config.bind_socket()
        try:
            Multiprocess(config, sockets=[sock]).run()
        finally:
            sock.close()
        return failed.read_text(encoding="utf-8") if failed.exists() else None

"""``ptrun serve`` over a real socket: the server runs as ``python -m ptrun.cli serve`` in a
subprocess on a free loopback port and is called with httpx.

One server holds a tiny sentiment run and a zero-shot tiny Llama (with an API key); a second one
serves a test task whose inputs can be slow, crash or be refused inside the model (a plugin
installed for the test through a dist-info folder on PYTHONPATH); a third one is stopped with
SIGTERM while it answers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from conftest import PINNED_PLUGINS, read_rows, write

REPO = Path(__file__).resolve().parents[1]
SENTIMENT_TEST = REPO / "plugins" / "demo" / "sentiment" / "test.tsv"
KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}

SLOW_PLUGIN = '''
import time

from ptrun import TextClassificationTask, hookimpl
from ptrun.plugins import demo_dir


class SlowTask(TextClassificationTask):
    """Sentiment whose model step sleeps on "SLOW <seconds>", crashes on "BOOM" and refuses "BAD"."""

    name = "slow"
    description = "test task"
    default_template = "sentiment/review"

    def demo_data(self):
        return demo_dir("sentiment")

    def predict(self, model, tokenizer, examples, features, label_map, batch_size):
        for ex in examples:
            words = ex.fields["text"].split()
            if words[0] == "SLOW":
                time.sleep(float(words[1]))
            if words[0] == "BOOM":
                raise RuntimeError("boom from the test task")
            if words[0] == "BAD":
                raise ex.error("the test task refuses this input")
        return super().predict(model, tokenizer, examples, features, label_map, batch_size)


@hookimpl
def ptrun_tasks():
    return [SlowTask()]
'''


def _cli(*args):
    from ptrun.cli import cli

    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``ptrun serve ARGS`` in a subprocess on a free port; its output goes to a log file."""

    def __init__(self, args, log: Path, env=None):
        """``env``: variables to set for the server (None: to remove)."""
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = open(log, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ptrun.cli", "serve", *map(str, args), "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT,  # an env value of None removes the variable
            env={k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None},
        )
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def wait_ready(self, headers=None, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the server exited ({self.proc.returncode}):\n{self.log()}"
            try:
                if self.client.get("/ready", headers=headers).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server was not ready after {timeout}s:\n{self.log()}")

    def stop(self):
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

    def predict(self, inputs, model=None, headers=None):
        body = {"inputs": inputs} if model is None else {"model": model, "inputs": inputs}
        return self.client.post("/v1/predict", json=body, headers=headers)

    def metric(self, name: str, headers=None) -> dict[str, float]:
        """``{labels: value}`` of one metric from /metrics."""
        text = self.client.get("/metrics", headers=headers).text
        out = {}
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                labels, _, value = line.rpartition(" ")
                out[labels[len(name):]] = float(value)
        return out


def _test_inputs() -> list[dict]:
    lines = SENTIMENT_TEST.read_text(encoding="utf-8").splitlines()[1:]
    return [{"text": line.split("\t")[0]} for line in lines]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_encoder) -> Path:
    run = tmp_path_factory.mktemp("serve") / "sst-run"
    _cli("sentiment", "--model", tiny_encoder, "--epochs", 1, "--limit-train", 16, "--limit-eval", 4, "-o", run)
    return run


@pytest.fixture(scope="module")
def main_server(run_dir, tiny_llama, tmp_path_factory):
    server = Server([run_dir, "--model", f"lm={tiny_llama}", "--task", "sentiment", "--api-key", KEY,
                     "--max-wait-ms", 20], tmp_path_factory.mktemp("main") / "server.log")
    try:
        yield server.wait_ready(AUTH)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict:
    site = tmp_path_factory.mktemp("slow-site")
    write(site / "slowplug.py", SLOW_PLUGIN)
    write(site / "ptrun_slow_test-0.1.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: ptrun-slow-test\nVersion: 0.1\n")
    write(site / "ptrun_slow_test-0.1.dist-info" / "entry_points.txt", "[ptrun]\nslow = slowplug\n")
    path = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {"PYTHONPATH": path, "PTRUN_LOAD_PLUGINS": f"{PINNED_PLUGINS},slow"}


@pytest.fixture(scope="module")
def slow_server(tiny_encoder, plugin_env, tmp_path_factory):
    server = Server([tiny_encoder, "--task", "slow", "--max-queue", 6, "--max-inputs", 4],
                    tmp_path_factory.mktemp("slow") / "server.log", plugin_env)
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def _error(response, status: int, param=None) -> dict:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param"} and error["message"]
    assert error["param"] == param
    return error


# -- the endpoints ------------------------------------------------------------------------
def test_health_ready_models(main_server, tiny_llama):
    import torch

    threads = int(os.environ.get("OMP_NUM_THREADS") or torch.get_num_threads())  # what the server inherits
    assert main_server.client.get("/health").json() == {"status": "ok", "torch_threads": threads}  # no key needed
    ready = main_server.client.get("/ready", headers=AUTH)
    assert ready.status_code == 200 and ready.json()["models"] == {"sst-run": "ready", "lm": "ready"}
    models = main_server.client.get("/v1/models", headers=AUTH).json()
    assert models["object"] == "list"
    by_id = {m["id"]: m for m in models["data"]}
    assert list(by_id) == ["sst-run", "lm"]  # the run folder's name, and the name given
    assert by_id["sst-run"] | {"created": 0} == {
        "id": "sst-run", "object": "model", "created": 0, "owned_by": "ptrun", "ready": True,
        "task": "sentiment", "template": "sentiment/review", "method": "full", "model_kind": "encoder"}
    assert by_id["lm"]["model_kind"] == "causal-lm" and by_id["lm"]["method"] == "zero-shot"
    assert by_id["lm"]["template"] == "sentiment/review" and by_id["lm"]["task"] == "sentiment"


@pytest.mark.parametrize("which", ["encoder run", "causal zero-shot"])
def test_predict_equals_eval_only(main_server, run_dir, tiny_llama, tmp_path, which):
    model, name = (run_dir, "sst-run") if which == "encoder run" else (tiny_llama, "lm")
    _cli("sentiment", "--model", model, "--eval-only", "--test", SENTIMENT_TEST, "-o", tmp_path / "eval")
    expected = read_rows(tmp_path / "eval")
    inputs = _test_inputs()
    assert len(expected) == len(inputs) == 150
    response = main_server.predict(inputs, name, AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == name
    got = body["predictions"]
    assert [r["id"] for r in got] == [f"inputs[{i}]" for i in range(len(inputs))]
    assert [r["text"] for r in got] == [r["text"] for r in expected]
    assert [r["prediction"] for r in got] == [r["prediction"] for r in expected]
    assert [r.get("scores") for r in got] == [r.get("scores") for r in expected]
    if which == "causal zero-shot":
        assert all(r["scores"] for r in got)


def test_two_models_selected_by_name(main_server):
    inputs = [{"text": "A moving, wonderful film."}, {"text": "Dull and far too long."}]
    enc = main_server.predict(inputs, "sst-run", AUTH).json()
    lm = main_server.predict(inputs, "lm", AUTH).json()
    assert enc["model"] == "sst-run" and lm["model"] == "lm"
    assert all("scores" not in r for r in enc["predictions"])
    assert all(set(r["scores"]) == {"negative", "positive"} for r in lm["predictions"])
    # Several models: the request must say which.
    _error(main_server.predict(inputs, None, AUTH), 422, "model")


# -- errors -------------------------------------------------------------------------------
def test_errors(main_server):
    c, good = main_server.client, [{"text": "fine"}]

    def post(body=None, content=None):
        return c.post("/v1/predict", headers=AUTH, **({"content": content} if content is not None else {"json": body}))

    assert _error(post(content=b'{"model": "lm", "inputs": ['), 400)["type"] == "invalid_request_error"
    _error(post(content=b"\xff\xfe"), 400)
    _error(post(content=json.dumps({"model": "lm", "inputs": [{"text": "x" * 1000}] * 1100})), 413)
    _error(post({"model": "lm"}), 422, "inputs")
    _error(post({"model": "lm", "inputs": "fine"}), 422, "inputs")
    _error(post({"model": "lm", "inputs": []}), 422, "inputs")
    assert "at most 256" in _error(post({"model": "lm", "inputs": good * 257}), 422, "inputs")["message"]
    _error(post({"model": "lm", "inputs": [{"text": "ok"}, "not an object"]}), 422, "inputs[1]")
    _error(post({"model": "lm", "inputs": good, "temperature": 1}), 422, "temperature")
    _error(post([1, 2]), 422)
    _error(post({"model": 3, "inputs": good}), 422, "model")
    missing = _error(post({"model": "sst-run", "inputs": [{"text": "ok"}, {"txt": "typo"}]}), 422, "inputs[1].text")
    assert missing["message"].startswith("inputs[1]: missing text") and "fields present: txt" in missing["message"]
    assert _error(post({"model": "nope", "inputs": good}), 404, "model")["type"] == "not_found_error"
    assert _error(c.get("/no/such/endpoint", headers=AUTH), 404)["type"] == "not_found_error"
    for path in ("/ready", "/v1/models", "/metrics"):
        _error(c.get(path), 401)
        assert _error(c.get(path, headers={"Authorization": "Bearer wrong"}), 401)["type"] == "authentication_error"
    _error(c.post("/v1/predict", json={"model": "lm", "inputs": good}), 401)
    _error(c.post("/v1/predict", json={"model": "lm", "inputs": good}, headers={"Authorization": KEY}), 401)
    # The OpenAI endpoints: a key is needed; an encoder cannot chat or complete.
    chat = {"model": "sst-run", "messages": [{"role": "user", "content": "Hi"}]}
    _error(c.post("/v1/chat/completions", json=chat), 401)
    assert "causal language model" in _error(c.post("/v1/chat/completions", json=chat, headers=AUTH), 422, "model")["message"]
    _error(c.post("/v1/completions", json={"model": "sst-run", "prompt": "Hi"}, headers=AUTH), 422, "model")
    assert c.get("/health").status_code == 200
    assert post({"model": "lm", "inputs": good}).status_code == 200  # still serving


# -- batching -----------------------------------------------------------------------------
def test_concurrent_requests_are_batched_and_answer_as_alone(main_server):
    texts = [f"{line['text']} ({i})" for i, line in enumerate(_test_inputs()[:64])]
    sequential = [main_server.predict([{"text": t}], "sst-run", AUTH).json() for t in texts]
    before = main_server.metric("ptrun_batch_requests_count", AUTH).get('{model="sst-run"}', 0)
    single = main_server.metric("ptrun_batch_requests_bucket", AUTH).get('{le="1.0",model="sst-run"}', 0)
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda t: main_server.predict([{"text": t}], "sst-run", AUTH), texts))
    assert [r.status_code for r in responses] == [200] * 64
    assert [r.json() for r in responses] == sequential
    batches = main_server.metric("ptrun_batch_requests_count", AUTH)['{model="sst-run"}'] - before
    singles = main_server.metric("ptrun_batch_requests_bucket", AUTH)['{le="1.0",model="sst-run"}'] - single
    assert batches < 64 and singles < batches  # some model calls answered several requests
    requests = main_server.metric("ptrun_requests_total", AUTH)
    assert requests['{endpoint="/v1/predict",status="200"}'] >= 128
    assert main_server.metric("ptrun_queue_depth", AUTH)['{model="sst-run"}'] == 0


def test_health_answers_while_a_batch_runs(slow_server):
    result = {}
    slow = threading.Thread(target=lambda: result.setdefault("r", slow_server.predict([{"text": "SLOW 3"}])))
    slow.start()
    try:
        time.sleep(0.5)
        start = time.monotonic()
        assert slow_server.client.get("/health").status_code == 200
        assert time.monotonic() - start < 1 and slow.is_alive()
    finally:
        slow.join(30)
    assert result["r"].status_code == 200 and result["r"].json()["predictions"][0]["id"] == "inputs[0]"


def _slow_name(server, headers=None) -> str:
    return server.client.get("/v1/models", headers=headers).json()["data"][0]["id"]


def _batches(server, name, headers=None) -> tuple[float, float]:
    """Model calls so far: all of them, and those that answered one request."""
    counts = server.metric("ptrun_batch_requests_bucket", headers)
    return counts[f'{{le="+Inf",model="{name}"}}'], counts[f'{{le="1.0",model="{name}"}}']


def test_a_failing_request_fails_alone(slow_server):
    name = _slow_name(slow_server)
    calls, singles = _batches(slow_server, name)
    texts = ["good one", "BOOM", "BAD input", "good two"]
    with ThreadPoolExecutor(5) as pool:
        busy = pool.submit(slow_server.predict, [{"text": "SLOW 1.5"}])
        _wait_depth(slow_server, name, 1)
        time.sleep(0.3)  # running, past --max-wait-ms
        futures = [pool.submit(slow_server.predict, [{"text": t}]) for t in texts]
        _wait_depth(slow_server, name, 5)  # queued while the model is busy: the next batch takes all four
        good1, boom, bad, good2 = [f.result() for f in futures]
        assert busy.result().status_code == 200
    assert good1.status_code == good2.status_code == 200
    assert good1.json()["predictions"][0]["text"] == "good one" and good2.json()["predictions"][0]["text"] == "good two"
    error = _error(boom, 500)
    assert error["type"] == "server_error" and "RuntimeError: boom from the test task" in error["message"]
    assert _error(bad, 422, "inputs[0]")["message"] == "inputs[0]: the test task refuses this input"
    calls2, singles2 = _batches(slow_server, name)
    assert calls2 - calls > singles2 - singles  # the four shared a model call
    assert slow_server.predict([{"text": "still serving"}]).status_code == 200


def test_queue_full_is_429(slow_server):
    name = _slow_name(slow_server)
    with ThreadPoolExecutor(3) as pool:
        slow = pool.submit(slow_server.predict, [{"text": "SLOW 3"}])
        _wait_depth(slow_server, name, 1)
        four = pool.submit(slow_server.predict, [{"text": t} for t in "abcd"])
        _wait_depth(slow_server, name, 5)
        full = slow_server.predict([{"text": "two"}, {"text": "more"}])  # 7 > --max-queue 6
        assert _error(full, 429)["type"] == "rate_limit_error"
        assert full.headers["retry-after"] == "1"
        one = pool.submit(slow_server.predict, [{"text": "one more fits"}])
        _wait_depth(slow_server, name, 6)
        assert [f.result().status_code for f in (slow, four, one)] == [200, 200, 200]
    assert slow_server.predict([{"text": "room again"}]).status_code == 200


def _wait_depth(server, name, depth, headers=None):
    deadline = time.monotonic() + 10
    while server.metric("ptrun_queue_depth", headers).get(f'{{model="{name}"}}') != depth:
        assert time.monotonic() < deadline, f"queue depth never reached {depth}"
        time.sleep(0.05)


def test_batcher_batches_bounds_and_drains():
    """The Batcher alone: batches up to max_batch_size inputs, refuses past max_queue, retries a
    failed batch request by request, finishes its queue on close."""
    from ptrun.deploy.batching import Batcher, Closed, QueueFull

    gate, seen = threading.Event(), []

    def run(payloads):
        gate.wait(10)
        seen.append(list(payloads))
        if "bad" in payloads:
            raise ValueError("bad payload")
        return [p * 2 for p in payloads]

    batcher = Batcher(run, max_batch_size=3, max_wait_ms=0, max_queue=5)
    first = batcher.submit("a")
    time.sleep(0.2)  # the worker holds "a" (at the gate)
    rest = [batcher.submit(p) for p in ("b", "bad", "c", "d")]
    assert batcher.pending == 5
    with pytest.raises(QueueFull):
        batcher.submit("e")
    gate.set()
    assert first.result(10) == "aa"
    assert [f.result(10) for f in rest[:1] + rest[2:]] == ["bb", "cc", "dd"]
    with pytest.raises(ValueError, match="bad payload"):
        rest[1].result(10)
    assert seen == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"], ["d"]]
    batcher.close(10)
    assert batcher.pending == 0
    with pytest.raises(Closed):
        batcher.submit("late")


def test_batcher_waits_for_company_only_while_requests_overlap():
    from ptrun.deploy.batching import Batcher

    gate, seen = threading.Event(), []
    gate.set()

    def run(payloads):
        gate.wait(10)
        seen.append(list(payloads))
        return payloads

    batcher = Batcher(run, max_batch_size=8, max_wait_ms=1000, max_queue=16)
    start = time.monotonic()
    assert batcher.submit("lone").result(10) == "lone"
    assert time.monotonic() - start < 0.5  # a lone client's request does not wait the 1000 ms
    gate.clear()
    first = batcher.submit("x")  # runs at once, held at the gate
    time.sleep(0.2)
    more = [batcher.submit(p) for p in "ab"]  # queue while it runs: the next batch
    gate.set()
    assert [f.result(10) for f in (first, *more)] == ["x", "a", "b"]
    assert seen[-2:] == [["x"], ["a", "b"]]
    # The last batch held two requests: the next one waits for company.
    late = batcher.submit("c")
    time.sleep(0.1)
    later = batcher.submit("d")
    assert [late.result(10), later.result(10)] == ["c", "d"] and seen[-1] == ["c", "d"]
    batcher.close(10)


# -- lifecycle ----------------------------------------------------------------------------
def test_loading_then_sigterm_finishes_the_request_in_flight_and_exits_0(tiny_encoder, plugin_env, tmp_path):
    env = {**plugin_env, "PTRUN_API_KEY": "from-env"}
    server = Server([tiny_encoder, "--task", "slow"], tmp_path / "server.log", env)
    headers = {"Authorization": "Bearer from-env"}
    try:
        # Listening while the model loads: /ready and /v1/predict say 503 (torch alone takes seconds to import).
        ready = _first_answer(server, "/ready", headers)
        assert _error(ready, 503)["type"] == "unavailable_error"
        assert list(ready.json()["models"].values()) == ["loading"]
        early = server.predict([{"text": "too early"}], None, headers)
        if early.status_code != 200:  # (unless it got ready meanwhile)
            assert _error(early, 503, "model")["message"].endswith("is still loading") and early.headers["retry-after"]
        server.wait_ready(headers)
        assert server.client.get("/ready").status_code == 401  # the key came from PTRUN_API_KEY
        name = _slow_name(server, headers)
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(server.predict, [{"text": "SLOW 3"}], None, headers)
            _wait_depth(server, name, 1, headers)
            server.proc.send_signal(signal.SIGTERM)
            refused = False
            for _ in range(40):  # stops accepting new connections while the request runs
                try:
                    httpx.get(server.url + "/health", timeout=1)
                except httpx.TransportError:
                    refused = True
                    break
                time.sleep(0.05)
            assert refused and not slow.done()
            response = slow.result()
        assert response.status_code == 200, response.text
        assert response.json()["predictions"][0]["text"] == "SLOW 3"
        assert server.proc.wait(30) == 0, server.log()
    finally:
        server.stop()


def _first_answer(server, path, headers, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.proc.poll() is None, server.log()
        try:
            return server.client.get(path, headers=headers)
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"no answer on {path}:\n{server.log()}")


def test_bad_model_is_an_error_before_serving(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ptrun.cli", "serve", tmp_path / "missing", "--port", str(_free_port())],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Unknown model" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "ptrun.cli", "serve", "--model", "a=x", "--model", "a=y"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Two models are named a" in proc.stderr


def test_help_does_not_import_the_server():
    code = "import sys, ptrun.cli; print(sorted(m for m in ('fastapi', 'uvicorn', 'prometheus_client') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr

"""The server's Prometheus metrics (``GET /metrics``): requests by endpoint and status, request
latency, batch sizes (inputs and requests per model call), batch time, queue depth and tokens
generated. A causal LM's generation jobs batch on their own: their batch metrics carry the model
label ``NAME/generate``.

Each server has its own registry, so several apps in one process never share counters.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("ptrun_requests", "HTTP requests by endpoint and status.", ["endpoint", "status"], registry=r)
        self.latency = Histogram("ptrun_request_duration_seconds", "Time to answer a request.", ["endpoint"], registry=r)
        self.batch_inputs = Histogram("ptrun_batch_inputs", "Inputs per model call.", ["model"], buckets=SIZES, registry=r)
        self.batch_requests = Histogram("ptrun_batch_requests", "Requests per model call.", ["model"], buckets=SIZES, registry=r)
        self.batch_seconds = Histogram("ptrun_batch_duration_seconds", "Time of one model call.", ["model"], registry=r)
        self.tokens = Counter("ptrun_tokens_generated", "Tokens generated (chat and completions).", ["model"], registry=r)
        self.queue_depth = Gauge("ptrun_queue_depth", "Inputs queued or running, not yet answered.", ["model"], registry=r)

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def observer(self, model: str) -> dict:
        """``on_batch`` and ``on_depth`` callbacks for a model's Batcher."""

        def on_batch(requests, inputs, seconds):
            self.batch_requests.labels(model).observe(requests)
            self.batch_inputs.labels(model).observe(inputs)
            self.batch_seconds.labels(model).observe(seconds)

        self.queue_depth.labels(model).set(0)
        return {"on_batch": on_batch, "on_depth": lambda pending: self.queue_depth.labels(model).set(pending)}

    def render(self) -> bytes:
        return generate_latest(self.registry)

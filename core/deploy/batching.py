"""Dynamic batching: requests that arrive together run as one model call.

A :class:`Batcher` owns one worker thread. Requests are queued with :meth:`Batcher.submit`
(which answers a :class:`concurrent.futures.Future`); the worker takes the oldest request, waits
up to ``max_wait_ms`` for more (while the batch holds at most ``max_batch_size`` inputs), and
hands the whole batch to ``run`` as one call. When that call raises and the batch held several
requests, each request is run again on its own, so only the request at fault gets the error.
The wait only happens while requests have been arriving together (the last batch held several):
a lone client's request runs at once, and under load requests queue while the model runs anyway.
The queue is bounded: past ``max_queue`` pending inputs, :meth:`submit` raises
:class:`QueueFull`. Nothing here knows HTTP or models: ``run`` maps a list of payloads to a list
of results, one per payload.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable


class QueueFull(Exception):
    """The queue holds ``max_queue`` pending inputs already; try again later."""


class Closed(Exception):
    """The batcher is shutting down and takes no new requests."""


@dataclass
class Job:
    payload: Any
    size: int
    future: Future = field(default_factory=Future)


class Batcher:
    """One worker thread that runs queued jobs in batches through ``run(payloads) -> results``.

    ``on_batch(requests, inputs, seconds)`` is called after each batch (for metrics);
    ``on_depth(pending)`` whenever the number of pending inputs changes.
    """

    def __init__(self, run: Callable[[list], list], *, max_batch_size: int = 32, max_wait_ms: float = 5,
                 max_queue: int = 256, name: str = "batcher", on_batch=None, on_depth=None):
        self.run = run
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self.on_batch = on_batch or (lambda requests, inputs, seconds: None)
        self.on_depth = on_depth or (lambda pending: None)
        self._queue: deque[Job] = deque()
        self._cond = threading.Condition()
        self._pending = 0  # inputs queued or running, not yet answered
        self._closed = False
        self._last_requests = 0  # requests in the last batch: several means clients overlap
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, payload, size: int = 1) -> Future:
        """Queue one request of ``size`` inputs; its future resolves to ``run``'s result for it."""
        job = Job(payload, size)
        job.future.set_running_or_notify_cancel()  # a running future cannot be cancelled under the worker
        with self._cond:
            if self._closed:
                raise Closed("the server is shutting down")
            if self._pending and self._pending + size > self.max_queue:
                raise QueueFull(f"{self._pending} inputs are waiting (at most {self.max_queue})")
            self._pending += size
            self._queue.append(job)
            self.on_depth(self._pending)
            self._cond.notify_all()
        return job.future

    def close(self, timeout: float | None = None) -> None:
        """Take no new requests, finish every queued one, then stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # -- the worker -----------------------------------------------------------------
    def _next_batch(self) -> list[Job] | None:
        """The next batch, or None once closed and drained."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            batch = [self._queue.popleft()]
            inputs = batch[0].size
            deadline = time.monotonic() + (self.max_wait if self._last_requests > 1 else 0)
            while inputs < self.max_batch_size:
                if not self._queue:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._closed:
                        break
                    self._cond.wait(left)
                    continue
                if inputs + self._queue[0].size > self.max_batch_size:
                    break
                job = self._queue.popleft()
                batch.append(job)
                inputs += job.size
            self._last_requests = len(batch)
            return batch

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            start = time.perf_counter()
            outcomes = self._outcomes(batch)
            try:  # counted before anyone is answered, so an answered request sees the queue without it
                with self._cond:
                    self._pending -= sum(j.size for j in batch)
                    self.on_depth(self._pending)
                self.on_batch(len(batch), sum(j.size for j in batch), time.perf_counter() - start)
            finally:
                for job, ok, value in outcomes:
                    if ok:
                        job.future.set_result(value)
                    else:
                        job.future.set_exception(value)

    def _outcomes(self, batch: list[Job]) -> list[tuple[Job, bool, Any]]:
        """``(job, ok, result or error)`` of each job: one ``run`` call for the batch; when it
        raises, each job on its own, so the error goes to the request at fault only."""
        try:
            results = self.run([j.payload for j in batch])
        except Exception as exc:
            if len(batch) == 1:
                return [(batch[0], False, exc)]
            return [outcome for job in batch for outcome in self._outcomes([job])]
        return [(job, True, result) for job, result in zip(batch, results)]

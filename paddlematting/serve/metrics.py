"""What ``GET /metrics`` reports (Prometheus text): requests, latency, queue depth, per-model
time, memory. Each app has its own registry; with ``--workers N`` each worker reports its own
(one process's view, labelled by ``worker`` = its pid)."""
import os
import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

__all__ = ['ServerMetrics', 'CONTENT_TYPE_LATEST']

# seconds: from a small cut-out on a GPU to a 16-Mpixel photo on two CPU cores
_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class ServerMetrics:
    """The counters of one worker; ``render()`` is the /metrics body."""

    def __init__(self, queue_depth: Callable[[], int], queue_capacity: int):
        self.registry = CollectorRegistry()
        worker = str(os.getpid())
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu seconds, fds
        self.requests = Counter('paddlematting_requests', 'requests answered, by endpoint and status',
                                ['endpoint', 'status'], registry=self.registry)
        self.latency = Histogram('paddlematting_request_seconds', 'time to answer, by endpoint',
                                 ['endpoint'], buckets=_BUCKETS, registry=self.registry)
        self.model_seconds = Histogram('paddlematting_model_seconds', 'inference time per model and role',
                                       ['model', 'role'], buckets=_BUCKETS, registry=self.registry)
        self.dropped = Counter('paddlematting_dropped', 'requests dropped before inference, by reason',
                               ['reason'], registry=self.registry)
        self.running = Gauge('paddlematting_inference_running', 'requests in inference now',
                             registry=self.registry)
        depth = Gauge('paddlematting_queue_depth', 'requests held (uploading, waiting or running)',
                      ['worker'], registry=self.registry)
        depth.labels(worker).set_function(queue_depth)
        Gauge('paddlematting_queue_capacity', 'the most requests held (--max-queue)', ['worker'],
              registry=self.registry).labels(worker).set(queue_capacity)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware: each HTTP request's status and time, by route (``/api/remove``, ...;
    unknown paths count as 'other' so a scan cannot grow the label set)."""

    def __init__(self, app, metrics: ServerMetrics, endpoints: tuple):
        self.app = app
        self.metrics = metrics
        self.endpoints = set(endpoints)

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http':
            return await self.app(scope, receive, send)
        path = scope.get('path', '')
        endpoint = path if path in self.endpoints else 'static' if path.startswith('/static/') else 'other'
        status = {'code': 500}

        async def send_status(message):
            if message['type'] == 'http.response.start':
                status['code'] = message['status']
            await send(message)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.requests.labels(endpoint, str(status['code'])).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)

"""One worker's serving state: its models, queue, metrics and the inference thread.

Inference runs off the event loop, one request at a time per worker, in a single thread
(paddle layers are not re-entrant, and ``Matting`` serialises calls anyway): the loop keeps
reading uploads and answering /health, /metrics and 503s meanwhile. Just before a request's
inference starts, a client that hung up is noticed and the request dropped (nobody would
read the answer). Parallelism comes from ``--workers`` processes.
"""
import asyncio
import importlib
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from fastapi import Request, Response

from .admission import RequestQueue
from .chain import Choice, ServedModels
from .errors import CLIENT_GONE
from .metrics import ServerMetrics
from .settings import ServeSettings

__all__ = ['Worker']

_SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _import_paddle_keeping_signal_handlers() -> None:
    """Import paddle now, in the main thread, and put back the server's SIGINT/SIGTERM
    handlers: paddle's import installs its own, which abort the process on SIGTERM instead of
    letting uvicorn finish the requests in flight. Done before the models load, so a SIGTERM
    during the (long) load already meets uvicorn's handler."""
    saved = {sig: signal.getsignal(sig) for sig in _SHUTDOWN_SIGNALS}
    try:
        importlib.import_module('paddle')
    except ImportError:  # the model load will say what is missing
        return
    if threading.current_thread() is threading.main_thread():
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)


class Worker:
    """What a worker process serves with (``app.state.worker``)."""

    def __init__(self, settings: ServeSettings, models: Optional[ServedModels] = None):
        self.settings = settings
        self.models = models or ServedModels(settings)
        self.queue = RequestQueue(settings.max_queue)
        self.metrics = ServerMetrics(lambda: self.queue.depth, settings.max_queue)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix='matting')
        self._inference = asyncio.Lock()

    async def start(self) -> None:
        """Load every model, in the inference thread (so paddle's state lives there)."""
        _import_paddle_keeping_signal_handlers()
        await asyncio.get_running_loop().run_in_executor(self.executor, self.models.load)

    def stop(self) -> None:
        self.executor.shutdown(wait=True)

    def _time_model(self, model: str, role: str, seconds: float) -> None:
        self.metrics.model_seconds.labels(model, role).observe(seconds)

    async def run_blocking(self, function, *args):
        """``function(*args)`` in the inference thread (downloads, decoding, ...)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def cut_out(self, request: Request, data: bytes, choice: Choice) -> Response:
        """The PNG for ``data``, or a 499 nobody reads when the client left while it waited."""
        async with self._inference:
            if await request.is_disconnected():
                self.metrics.dropped.labels('client_disconnected').inc()
                return Response(status_code=CLIENT_GONE)
            self.metrics.running.inc()
            started = time.perf_counter()
            try:
                png = await self.run_blocking(self.models.cut_out, data, choice, self._time_model)
            finally:
                self.metrics.running.dec()
                self.queue.record(time.perf_counter() - started)
        return Response(png, media_type='image/png')

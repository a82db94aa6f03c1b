"""The bounded queue of one worker: how many requests it holds, and when to say 503.

A request takes a slot when it arrives, before its body is read, and gives it back when
answered; the slots bound what a worker holds in memory (``max_queue`` uploads of at most
``max_bytes`` each, and their pictures) as well as the wait. The event loop is the only
thread that touches the counters, so they need no lock.
"""
import contextlib
import math
from typing import Iterator

from .errors import QueueFullError

__all__ = ['RequestQueue']


class RequestQueue:
    """``capacity`` slots; ``seconds_per_job`` (a running mean) sizes Retry-After."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.depth = 0
        self.seconds_per_job = 1.0
        self._seen = 0

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the queue's work at the mean job time (>= 1)."""
        return max(1, math.ceil(self.depth * self.seconds_per_job))

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for a request; QueueFullError (503) when none is free."""
        if self.depth >= self.capacity:
            raise QueueFullError(self.capacity, self.retry_after())
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def record(self, seconds: float) -> None:
        """One job's time: the mean over the last ~20 jobs."""
        self._seen = min(self._seen + 1, 20)
        self.seconds_per_job += (seconds - self.seconds_per_job) / self._seen

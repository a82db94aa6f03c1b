"""``thread_map``: run independent numpy/OpenCV pieces of one image on a few threads.

numpy's ufunc loops and OpenCV release the GIL, so the rectangles of a foreground estimate
or the bands of a composite run in parallel on threads with no copies. The pool is made on
first use, holds ``worker_count()`` threads (``$PADDLEMATTING_THREADS`` or the CPUs this
process may use, at most ``MAX_WORKERS``), and is dropped in a forked child (a data-loader
worker), whose copy of the pool would have no threads.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, List, Optional, TypeVar

from .cpu_threads import usable_cores

__all__ = ['THREADS_ENV', 'MAX_WORKERS', 'worker_count', 'thread_map']

THREADS_ENV = 'PADDLEMATTING_THREADS'
# past four threads the memory bandwidth, not the cores, bounds these element-wise loops
MAX_WORKERS = 4

T = TypeVar('T')
R = TypeVar('R')
_pool: Optional[ThreadPoolExecutor] = None
_pool_size = 0
_pool_lock = threading.Lock()


def worker_count() -> int:
    """``$PADDLEMATTING_THREADS`` when set (>= 1), else min(CPUs available, ``MAX_WORKERS``)."""
    raw = os.environ.get(THREADS_ENV, '').strip()
    if raw:
        try:
            count = int(raw)
        except ValueError:
            raise ValueError(f'${THREADS_ENV} is {raw!r}; expected a whole number of threads '
                             f'>= 1.') from None
        if count < 1:
            raise ValueError(f'${THREADS_ENV} is {raw!r}; expected a whole number of threads >= 1.')
        return count
    return max(1, min(usable_cores(), MAX_WORKERS))


def _forget_pool() -> None:
    global _pool, _pool_size
    _pool, _pool_size = None, 0


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_forget_pool)


def thread_map(function: Callable[[T], R], items: Iterable[T]) -> List[R]:
    """``[function(item) for item in items]``, computed on the pool's threads (in order; the
    first exception raised is re-raised). One item, or one worker, runs inline."""
    global _pool, _pool_size
    items = list(items)
    count = worker_count()
    if len(items) < 2 or count < 2:
        return [function(item) for item in items]
    with _pool_lock:
        if _pool is None or _pool_size != count:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix='paddlematting')
            _pool_size = count
        pool = _pool
    return list(pool.map(function, items))

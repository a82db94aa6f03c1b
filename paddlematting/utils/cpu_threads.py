"""The CPU thread count of our commands: every usable core unless the user set one.

Paddle sets ``OMP_NUM_THREADS=1`` when it is unset (``paddle.base.__bootstrap__``), so a
command run as documented, without the variable, would train and predict on one core of
many: a 2-core machine's MODNet training step takes 1.3x as long on one thread
(benchmarks/README.md, "Threads"). The command-line package therefore sets the variable,
before Paddle loads, to the physical cores this process may use divided among the launcher's
processes on this node (``PADDLE_LOCAL_SIZE``), at least one. A value the user set is kept.
Library users, who never import ``paddlematting.cli``, keep Paddle's own default.
"""
import os
from typing import MutableMapping, Optional

__all__ = ['usable_cores', 'physical_cores', 'default_cpu_threads', 'apply_default_cpu_threads']

THREADS_VARIABLE = 'OMP_NUM_THREADS'
# marks a value we set, so that a launcher's worker (which inherits it) shares the cores anew
OURS_VARIABLE = 'PADDLEMATTING_DEFAULT_THREADS'


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def physical_cores() -> int:
    """The usable cores less their hyper-thread siblings (psutil's physical count, where
    installed): hyper-threads share a core's vector units, so math threads beyond the
    physical cores only add contention."""
    usable = usable_cores()
    try:
        import psutil
        physical = psutil.cpu_count(logical=False) or usable
    except ImportError:
        physical = usable
    return max(1, min(usable, physical))


def default_cpu_threads(environ: MutableMapping[str, str], cores: int) -> int:
    """``cores`` shared among the node's launcher processes (``PADDLE_LOCAL_SIZE``), >= 1.

    >>> default_cpu_threads({}, 8), default_cpu_threads({'PADDLE_LOCAL_SIZE': '2'}, 8)
    (8, 4)
    >>> default_cpu_threads({'PADDLE_LOCAL_SIZE': '4'}, 2)
    1
    """
    try:
        processes = max(1, int(environ.get('PADDLE_LOCAL_SIZE', '1')))
    except ValueError:
        processes = 1
    return max(1, cores // processes)


def apply_default_cpu_threads(environ: Optional[MutableMapping[str, str]] = None) -> Optional[int]:
    """Set ``OMP_NUM_THREADS`` in ``environ`` (default ``os.environ``) when it is unset;
    returns the count set, or None when the user's value was kept. Call before paddle loads.

    >>> env = {}
    >>> apply_default_cpu_threads(env) == int(env['OMP_NUM_THREADS']) >= 1
    True
    >>> apply_default_cpu_threads({'OMP_NUM_THREADS': '3'}) is None
    True
    """
    environ = os.environ if environ is None else environ
    current = environ.get(THREADS_VARIABLE, '').strip()
    if current and current != environ.get(OURS_VARIABLE):
        return None
    threads = default_cpu_threads(environ, physical_cores())
    environ[THREADS_VARIABLE] = environ[OURS_VARIABLE] = str(threads)
    return threads

"""DataLoader workers that neither outlive their trainer nor die before its final checkpoint.

- ``die_with_parent``: on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes the kernel kill
  the worker when the process that started it dies, kill -9 included; without it, workers
  of a killed trainer live on as orphans holding hundreds of MB each.
- ``defer_sigterm``: ``paddle.distributed.launch`` stops a trainer by sending SIGTERM to its
  whole process group, workers included. A worker dying at once would make the trainer fail
  mid-step, before it can save; instead the worker keeps serving batches and exits by itself
  ``grace_s`` seconds later (SIGALRM), by which time the trainer has saved and shut it down.
"""
import ctypes
import ctypes.util
import os
import signal
import sys

__all__ = ['die_with_parent', 'defer_sigterm', 'WORKER_SIGTERM_GRACE_S']

_PR_SET_PDEATHSIG = 1
# paddle.distributed.launch waits 30 s after its SIGTERMs before it kills
WORKER_SIGTERM_GRACE_S = 30


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux only).

    Args:
        parent_pid: the pid the caller expects as its parent; if the parent already died
            (this process was re-parented), exit at once.
    Returns:
        True when the request was made, False where it is not supported.
    """
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
    return True


def _exit_later(signum, frame) -> None:
    signal.alarm(WORKER_SIGTERM_GRACE_S)  # SIGALRM's default action ends the process


def defer_sigterm() -> None:
    """Turn SIGTERM into "exit in WORKER_SIGTERM_GRACE_S seconds" (see the module docstring),
    then accept SIGTERM again: the trainer blocks it while forking workers, so that none can
    arrive before this handler is in place."""
    signal.signal(signal.SIGTERM, _exit_later)
    if hasattr(signal, 'pthread_sigmask'):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

"""A bad sample read by a DataLoader worker reported as itself, not as "Blocking queue is killed".

Paddle's multi-process loader prints a worker's exception from a helper thread and then
fails in the main process with ``SystemError: Blocking queue is killed``, the cause far above.
``ReportingDataset`` (in the worker) writes the failing sample's message to a small file;
``SurfacingLoader`` (in the main process) turns the loader's failure into a ``SampleError``
carrying that message, so the command prints one line naming the sample and its file.
"""
import contextlib
import os
import signal
import shutil
import tempfile
from typing import Any, Iterator

__all__ = ['SampleError', 'ReportingDataset', 'SurfacingLoader', 'make_error_dir']


class SampleError(ValueError):
    """A dataset sample could not be loaded (the message names it and the cause)."""


def make_error_dir() -> str:
    """A fresh folder for the workers' error reports (removed by ``SurfacingLoader``)."""
    return tempfile.mkdtemp(prefix='paddlematting-sample-errors-')


def describe_failure(index: Any, error: BaseException) -> str:
    """'sample 5: <the error, on one line>'."""
    key = index[1] if isinstance(index, tuple) and len(index) == 2 else index
    return f'dataset sample {key} could not be loaded: {" ".join(str(error).split())}'


class ReportingDataset:
    """Wraps a map-style dataset; a failing ``__getitem__`` also writes its message to
    ``error_dir`` (one file per worker process) before re-raising."""

    def __init__(self, dataset: Any, error_dir: str) -> None:
        self.dataset = dataset
        self.error_dir = error_dir

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: Any) -> Any:
        try:
            return self.dataset[index]
        except Exception as error:
            message = describe_failure(index, error)
            try:
                with open(os.path.join(self.error_dir, f'{os.getpid()}.txt'), 'w',
                          encoding='utf-8') as f:
                    f.write(message)
            except OSError:
                pass  # the report is a convenience; the original error still propagates
            raise


@contextlib.contextmanager
def sigterm_blocked():
    """Hold SIGTERM back in this thread while the block runs (POSIX); delivered afterwards."""
    if not hasattr(signal, 'pthread_sigmask'):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class SurfacingLoader:
    """Iterates ``loader``; when it fails after a worker reported a sample error, raises
    ``SampleError`` with that report instead."""

    def __init__(self, loader: Any, error_dir: str) -> None:
        self.loader = loader
        self.error_dir = error_dir

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        try:
            # workers are forked here, once per epoch; a SIGTERM landing before a new worker
            # has installed its handler (worker_guard.defer_sigterm) would kill it mid-step,
            # so SIGTERM stays blocked until they are started (the children inherit the block
            # and lift it themselves), then reaches the trainer as usual
            with sigterm_blocked():
                batches = iter(self.loader)
            yield from batches
        except Exception as error:
            reports = sorted(os.listdir(self.error_dir)) if os.path.isdir(self.error_dir) else []
            if not reports:
                raise
            with open(os.path.join(self.error_dir, reports[0]), encoding='utf-8') as f:
                message = f.read().strip()
            raise SampleError(message) from error

    def __del__(self) -> None:
        shutil.rmtree(self.error_dir, ignore_errors=True)

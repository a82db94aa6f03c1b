"""``OutputWriter``: PNG writing on a background thread, overlapped with the next image.

Encoding a 1080p matte and cut-out takes about as long as everything else after the model
together; PNG encoding (zlib) releases the GIL, so a writer thread does it while the main
thread reads, prepares and runs the next image. The queue is bounded, by count and by
bytes, so outputs never pile up faster than they are written (a 48-megapixel cut-out waits
for the previous one's file to be done). Each file is still written under a temporary name
and renamed (``write_outputs``), and a failure is reported for its input only, through the
``failed`` callback; the other inputs go on.
"""
import collections
import threading
from dataclasses import dataclass
from typing import Callable, Deque, Optional, Tuple

from .outputs import MatteOutputs, OutputPaths, write_outputs

__all__ = ['WriterLimits', 'OutputWriter']

Written = Callable[[Optional[str], OutputPaths], None]
Failed = Callable[[Optional[str], BaseException], None]


@dataclass(frozen=True)
class WriterLimits:
    """How far the writer may fall behind.

    Attributes:
        background: write on a thread (False: ``submit`` writes before returning).
        max_items: outputs waiting or being written at most (>= 1).
        max_bytes: their arrays' bytes at most; one output larger than this is still taken
            when nothing else waits (it is then the only one held).
    """
    background: bool = True
    max_items: int = 2
    max_bytes: int = 256 << 20


def _nbytes(outputs: MatteOutputs) -> int:
    arrays = (outputs.alpha, outputs.rgba, outputs.composite)
    return sum(a.nbytes for a in arrays if a is not None)


class OutputWriter:
    """Writes one picture's outputs after another, in the order submitted.

    Args:
        written: called as ``written(input_path, paths)`` after an output's files exist.
        failed: called as ``failed(input_path, error)`` when writing raised; the output's
            files that were complete before the error stay, none is left half-written.
        limits: see ``WriterLimits``.

    Both callbacks run on the writer thread (in order). Use as a context manager, or call
    ``close``: it waits until every submitted output is written or has failed.
    """

    def __init__(self, written: Written, failed: Failed, limits: Optional[WriterLimits] = None):
        self.written, self.failed = written, failed
        self.limits = limits or WriterLimits()
        if self.limits.max_items < 1 or self.limits.max_bytes < 0:
            raise ValueError(f'WriterLimits needs max_items >= 1 and max_bytes >= 0, got '
                             f'{self.limits}.')
        self._queue: Deque[Tuple[MatteOutputs, OutputPaths, Optional[str], int]] = collections.deque()
        self._held_items = self._held_bytes = 0  # queued or being written
        self._changed = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    def submit(self, outputs: MatteOutputs, paths: OutputPaths,
               input_path: Optional[str] = None) -> None:
        """Queue ``outputs`` for ``paths`` (``write_outputs``'s arguments), waiting while
        the writer holds as much as its limits allow. Only the matte, cut-out and composite
        are kept (the foreground colours are not written)."""
        outputs = MatteOutputs(alpha=outputs.alpha, rgba=outputs.rgba, composite=outputs.composite)
        if not self.limits.background:
            self._write(outputs, paths, input_path)
            return
        size = _nbytes(outputs)
        with self._changed:
            if self._closed:
                raise RuntimeError('OutputWriter.submit after close')
            while self._held_items and (self._held_items >= self.limits.max_items or
                                        self._held_bytes + size > self.limits.max_bytes):
                self._changed.wait()
            self._queue.append((outputs, paths, input_path, size))
            self._held_items += 1
            self._held_bytes += size
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name='paddlematting-writer',
                                                daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def _write(self, outputs: MatteOutputs, paths: OutputPaths, input_path: Optional[str]) -> None:
        try:
            write_outputs(outputs, paths, input_path)
        except Exception as error:  # reported for this input; the next ones go on
            self.failed(input_path, error)
        else:
            self.written(input_path, paths)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if not self._queue:
                    return  # closed and drained
                outputs, paths, input_path, size = self._queue.popleft()
            try:
                self._write(outputs, paths, input_path)
            except BaseException as error:  # a callback failed: the thread must go on
                self._report_quietly(input_path, error)
            finally:
                del outputs
                with self._changed:
                    self._held_items -= 1
                    self._held_bytes -= size
                    self._changed.notify_all()

    def _report_quietly(self, input_path: Optional[str], error: BaseException) -> None:
        try:
            self.failed(input_path, error)
        except BaseException:  # nothing left to tell it to
            pass

    def wait(self) -> None:
        """Wait until everything submitted so far is written (or failed)."""
        with self._changed:
            while self._held_items:
                self._changed.wait()

    def close(self) -> None:
        """Wait until everything submitted is written (or failed); later submits raise."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def __enter__(self) -> 'OutputWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

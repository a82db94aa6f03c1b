"""Keep third-party noise that does not concern the user out of the commands' output.

Some of it is printed by C/C++ code straight to file descriptor 2 (libpng's "iCCP: known
incorrect sRGB profile", Paddle's "static graph(PIR) not support input out tensor") or 1
(Paddle Inference's oneDNN pass prints "ReduceMeanCheckIfOneDNNSupport" to std::cout for every
reduce_mean it considers, 14 lines per PP-MattingV2 run), some by Python code at import time
(Paddle's OMP_NUM_THREADS notice, which fires because we set the thread count on purpose) or
with ``print`` (pymatting's five-line "PERFORMANCE WARNING" when its incomplete Cholesky
preconditioner retries with a larger shift, which it then does by itself). None of it can be
silenced through ``warnings`` or ``logging``, so the command-line tools route fds 1 and 2
through pipes and drop exactly the known lines; every other byte reaches its destination
unchanged, progress bars included (partial lines are passed on after a short pause, so a
``\\r``-redrawn bar keeps moving). Child processes inherit the filtered descriptors.

Only the CLIs install this (``install``); importing paddlematting as a library changes nothing.

Why a pipe and a thread rather than something simpler: the simpler ways each miss part of the
noise. ``warnings`` filters and a ``sys.stderr`` wrapper see only Python-level writes, not
libpng's or Paddle's C++ lines on fd 2; ``GLOG_minloglevel`` silences glog as a whole (real
Paddle errors included) and does nothing for libpng or plain ``std::cerr`` prints; redirecting
fd 2 to /dev/null loses our own errors and tracebacks. Dropping exactly the known lines is the
smallest thing that keeps everything else.
"""
import atexit
import os
import re
import select
import sys
import threading
from typing import List, Optional, Pattern, Sequence, Tuple

__all__ = ['THIRD_PARTY_NOISE', 'FOLLOW_UPS', 'is_noise', 'install', 'uninstall']

# whole lines (without their terminator) that are dropped
THIRD_PARTY_NOISE: Sequence[Pattern[str]] = tuple(re.compile(p) for p in (
    r'^libpng warning: iCCP: ',
    r'^WARNING: OMP_NUM_THREADS set to \d+, not 1\. The computation speed will not be optimized',
    r'^PLEASE USE OMP_NUM_THREADS WISELY\.$',
    r'Paddle static graph\(PIR\) not support input out tensor for now',
    r'UserWarning: No ccache found',
    # paddle's tracing of a model (export) asks every value for its place
    r"UserWarning: Value do not have 'place' interface for pir graph mode",
    # printed by Paddle Inference's oneDNN pass for every reduce_mean it considers
    r'^ReduceMeanCheckIfOneDNNSupport$',
    r'^PERFORMANCE WARNING:$',  # pymatting (the lines after it follow below)
    # Ray's driver, for every Ray Data actor pool that may restart its actors (the default)
    r'has constructor arguments in the object store and max_restarts > 0',
))
# (the dropped line before, this line): lines dropped only right after such a dropped line
FOLLOW_UPS: Sequence[Tuple[Pattern[str], Pattern[str]]] = tuple(
    (re.compile(before), re.compile(line)) for before, line in (
        # the source line Python prints under a warning
        (r'Warning: ', r'^\s+warnings\.warn\('),
        # the rest of pymatting's block
        (r'^PERFORMANCE WARNING:$', r'^Thresholded incomplete Cholesky decomposition failed '
                                    r'due to insufficient positive-definiteness'),
        (r'^Thresholded incomplete Cholesky', r'^\s+discard_threshold = \S+$'),
        (r'^\s+discard_threshold = ', r'^\s+shift = \S+$'),
        (r'^\s+shift = ', r'^Try decreasing discard_threshold or start with a larger shift$'),
        (r'^Try decreasing discard_threshold', r'^$'),
    ))
# how long a partial line waits for its end before it is passed on as it is
_PARTIAL_LINE_WAIT_S = 0.05


def is_noise(line: str) -> bool:
    """Whether ``line`` (one line, without its terminator) is known third-party noise."""
    return any(p.search(line) for p in THIRD_PARTY_NOISE)


def _follows_dropped(before: Optional[str], line: str) -> bool:
    """Whether ``line`` is dropped as a follow-up of the dropped line ``before`` (None: the
    line before was kept)."""
    return before is not None and any(b.search(before) and l.search(line) for b, l in FOLLOW_UPS)


class _Filter:
    """Routes file descriptor ``fd`` through a pipe; a thread drops the noise."""

    def __init__(self, fd: int):
        stream = sys.stdout if fd == 1 else sys.stderr
        if stream is not None:
            stream.flush()
        self.fd = fd
        self.terminal_fd = os.dup(fd)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, fd)
        os.close(write_fd)
        self.read_fd = read_fd
        self.dropped_before: Optional[str] = None  # the previous line, if it was dropped
        self.thread = threading.Thread(target=self._pump, name=f'fd{fd}-filter', daemon=True)
        self.thread.start()

    def _emit(self, segment: bytes) -> None:
        text = segment.rstrip(b'\r\n').decode('utf-8', 'replace')
        drop = is_noise(text) or _follows_dropped(self.dropped_before, text)
        if not drop:
            os.write(self.terminal_fd, segment)
        if text or not segment.endswith(b'\r'):  # a bare '\r' (a bar's redraw) is no line
            self.dropped_before = text if drop else None

    def _pump(self) -> None:
        pending = b''
        while True:
            ready, _, _ = select.select([self.read_fd], [], [], _PARTIAL_LINE_WAIT_S if pending else None)
            if not ready:  # a partial line (a progress bar being redrawn) waited long enough
                self._emit(pending)
                pending = b''
                continue
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                break
            pending += chunk
            # split after each '\n' or '\r', keeping the terminators with their segments
            parts = re.split(rb'(?<=[\r\n])', pending)
            pending = parts.pop()
            for part in parts:
                self._emit(part)
        if pending:
            self._emit(pending)
        os.close(self.read_fd)

    def close(self) -> None:
        stream = sys.stdout if self.fd == 1 else sys.stderr
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.terminal_fd, self.fd)  # the pipe's last writer closes: the pump sees EOF
        self.thread.join(timeout=2)
        os.close(self.terminal_fd)


_active: List[_Filter] = []


def install() -> None:
    """Filter this process's fds 1 and 2 (and its children's) until exit; a no-op when
    repeated, or when ``PADDLEMATTING_SHOW_ALL_OUTPUT=1`` asks to see everything."""
    if _active or os.environ.get('PADDLEMATTING_SHOW_ALL_OUTPUT') == '1':
        return
    for fd in (2, 1):
        try:
            _active.append(_Filter(fd))
        except OSError:  # no usable fd (a closed stdout or stderr): nothing to filter there
            continue
    if _active:
        atexit.register(uninstall)


def uninstall() -> None:
    """Restore fds 1 and 2 and pass on whatever is still buffered."""
    while _active:
        _active.pop().close()

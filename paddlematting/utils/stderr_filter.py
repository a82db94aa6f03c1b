"""Keep third-party noise that does not concern the user out of the commands' output.

Some of it is printed by C/C++ code straight to file descriptor 2 (libpng's "iCCP: known
incorrect sRGB profile", Paddle's "static graph(PIR) not support input out tensor"), and some
by Python code at import time (Paddle's OMP_NUM_THREADS notice, which fires because we set
the thread count on purpose). Neither can be silenced through ``warnings`` or ``logging``, so
the command-line tools route fd 2 through a pipe and drop exactly the known lines; every other
byte reaches the terminal unchanged, progress bars included (partial lines are passed on after
a short pause, so a ``\\r``-redrawn bar keeps moving).

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
from typing import Optional, Pattern, Sequence

__all__ = ['THIRD_PARTY_NOISE', 'is_noise', 'install', 'uninstall']

# whole lines (without their terminator) that are dropped
THIRD_PARTY_NOISE: Sequence[Pattern[str]] = tuple(re.compile(p) for p in (
    r'^libpng warning: iCCP: ',
    r'^WARNING: OMP_NUM_THREADS set to \d+, not 1\. The computation speed will not be optimized',
    r'^PLEASE USE OMP_NUM_THREADS WISELY\.$',
    r'Paddle static graph\(PIR\) not support input out tensor for now',
    r'UserWarning: No ccache found',
    # printed by Paddle Inference's oneDNN pass for every reduce_mean it considers (GCA)
    r'^ReduceMeanCheckIfOneDNNSupport$',
    # Ray's driver, for every Ray Data actor pool that may restart its actors (the default)
    r'has constructor arguments in the object store and max_restarts > 0',
))
# the source line Python prints under a warning; dropped only right after a dropped warning
_WARNING_SOURCE_LINE = re.compile(r'^\s+warnings\.warn\(')
# how long a partial line waits for its end before it is passed on as it is
_PARTIAL_LINE_WAIT_S = 0.05


def is_noise(line: str) -> bool:
    """Whether ``line`` (one line, without its terminator) is known third-party noise."""
    return any(p.search(line) for p in THIRD_PARTY_NOISE)


class _Filter:
    def __init__(self):
        sys.stderr.flush()
        self.terminal_fd = os.dup(2)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self.read_fd = read_fd
        self.dropped_previous = False
        self.thread = threading.Thread(target=self._pump, name='stderr-filter', daemon=True)
        self.thread.start()

    def _emit(self, segment: bytes) -> None:
        text = segment.rstrip(b'\r\n').decode('utf-8', 'replace')
        drop = is_noise(text) or (self.dropped_previous and bool(_WARNING_SOURCE_LINE.match(text)))
        if not drop:
            os.write(self.terminal_fd, segment)
        if text:
            self.dropped_previous = drop

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
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self.terminal_fd, 2)  # the pipe's last writer closes: the pump sees EOF
        self.thread.join(timeout=2)
        os.close(self.terminal_fd)


_active: Optional[_Filter] = None


def install() -> None:
    """Filter this process's fd 2 (and its children's) until exit; a no-op when repeated, or
    when ``PADDLEMATTING_SHOW_ALL_OUTPUT=1`` asks to see everything."""
    global _active
    if _active is not None or os.environ.get('PADDLEMATTING_SHOW_ALL_OUTPUT') == '1':
        return
    try:
        _active = _Filter()
    except OSError:  # no usable fd 2 (a closed stderr): nothing to filter
        return
    atexit.register(uninstall)


def uninstall() -> None:
    """Restore fd 2 and pass on whatever is still buffered."""
    global _active
    if _active is not None:
        active, _active = _active, None
        active.close()

"""The export cache's size bound: least recently used exports go first.

``predict.py``/``val.py --backend inference`` export each (config, checkpoint) pair once into
``<cache>/<64-hex key>/``. Every use touches the folder; after each new export the cache is
pruned, oldest use first, until it fits ``$PADDLEMATTING_EXPORT_CACHE_MB`` (default 2048 MB).
Only folders that look like our exports (a 64-hex name holding ``deploy.yaml``) are ever
counted or removed: anything else a user keeps there stays.

A first export takes a minute or more, so it announces itself (``announced_export``): what
is exported, about how long it takes and where it is cached, then a progress line every
``PROGRESS_INTERVAL_S`` seconds. The estimate is the last export of the same model type in
this cache (``export-times.json``), else "a minute or two".
"""
import contextlib
import json
import logging
import os
import re
import shutil
import threading
import time
from typing import Dict, Iterator, List, NamedTuple, Optional

__all__ = ['CACHE_LIMIT_ENV', 'DEFAULT_LIMIT_MB', 'CacheEntry', 'cache_limit_bytes', 'entries',
           'touch', 'prune', 'clear', 'expected_export_seconds', 'announced_export']

logger = logging.getLogger(__name__)

CACHE_LIMIT_ENV = 'PADDLEMATTING_EXPORT_CACHE_MB'
DEFAULT_LIMIT_MB = 2048
_KEY_NAME = re.compile(r'^[0-9a-f]{64}$')
_MARKER = 'deploy.yaml'


class CacheEntry(NamedTuple):
    path: str
    size_bytes: int
    last_used: float  # seconds since the epoch


def cache_limit_bytes() -> int:
    """The bound from ``$PADDLEMATTING_EXPORT_CACHE_MB`` (MB; 0 keeps only the export in use)."""
    raw = os.environ.get(CACHE_LIMIT_ENV)
    if raw is None or raw.strip() == '':
        return DEFAULT_LIMIT_MB << 20
    try:
        megabytes = float(raw)
    except ValueError:
        raise ValueError(f'${CACHE_LIMIT_ENV} is {raw!r}; expected a size in MB, e.g. 2048.') from None
    if megabytes < 0:
        raise ValueError(f'${CACHE_LIMIT_ENV} is {raw!r}; expected a size >= 0 in MB.')
    return int(megabytes * (1 << 20))


def _folder_size(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # removed meanwhile by a concurrent prune
                pass
    return total


def entries(cache_dir: str) -> List[CacheEntry]:
    """Our export folders in ``cache_dir``, least recently used first."""
    if not os.path.isdir(cache_dir):
        return []
    found = []
    for name in os.listdir(cache_dir):
        path = os.path.join(cache_dir, name)
        marker = os.path.join(path, _MARKER)
        if _KEY_NAME.match(name) and os.path.isfile(marker):
            found.append(CacheEntry(path, _folder_size(path), os.stat(path).st_mtime))
    return sorted(found, key=lambda e: e.last_used)


def touch(folder: str) -> None:
    """Record a use of an export folder (its mtime is the LRU clock)."""
    now = time.time()
    os.utime(folder, (now, now))


def prune(cache_dir: str, limit_bytes: Optional[int] = None, keep: Optional[str] = None) -> List[str]:
    """Remove least recently used exports until the cache fits ``limit_bytes``.

    Args:
        cache_dir: the export cache folder.
        limit_bytes: the bound; default ``cache_limit_bytes()``.
        keep: a folder never removed (the export about to be used).
    Returns:
        The removed folders.
    """
    limit = cache_limit_bytes() if limit_bytes is None else limit_bytes
    found = entries(cache_dir)
    total = sum(e.size_bytes for e in found)
    removed = []
    for entry in found:
        if total <= limit:
            break
        if keep is not None and os.path.abspath(entry.path) == os.path.abspath(keep):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        total -= entry.size_bytes
        removed.append(entry.path)
    return removed


def clear(cache_dir: str) -> List[str]:
    """Remove every export of ours from ``cache_dir``; return the removed folders."""
    return prune(cache_dir, limit_bytes=0)


# ----------------------------------------------------------------------------- announcing
TIMES_FILE = 'export-times.json'
PROGRESS_INTERVAL_S = 15.0
# what a first export takes when this cache has timed none of the type yet (measured: 18 s
# for PP-MattingV2 to 195 s for larger models on 2-core CPUs, engine timing included)
FIRST_EXPORT_GUESS = 'a minute or two'


def _recorded_times(cache_dir: str) -> Dict[str, float]:
    try:
        with open(os.path.join(cache_dir, TIMES_FILE), encoding='utf-8') as f:
            times = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(times, dict):
        return {}
    return {k: float(v) for k, v in times.items()
            if isinstance(k, str) and isinstance(v, (int, float)) and 0 < v < 1e6}


def expected_export_seconds(cache_dir: str, model_type: str) -> Optional[float]:
    """How long exporting ``model_type`` took last time in this cache (None: never yet)."""
    return _recorded_times(cache_dir).get(model_type)


def _record_time(cache_dir: str, model_type: str, seconds: float) -> None:
    times = _recorded_times(cache_dir)
    times[model_type] = round(seconds, 1)
    path = os.path.join(cache_dir, TIMES_FILE)
    tmp = f'{path}.tmp-{os.getpid()}'
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(dict(sorted(times.items())[:200]), f)
        os.replace(tmp, path)
    except OSError:  # only the next estimate is lost
        with contextlib.suppress(OSError):
            os.remove(tmp)


def _about(expected: Optional[float]) -> str:
    return FIRST_EXPORT_GUESS if expected is None else f'{expected:.0f} s'


def _report_progress(stop: threading.Event, model_type: str, started: float,
                     expected: Optional[float]) -> None:
    while not stop.wait(PROGRESS_INTERVAL_S):
        logger.info('Exporting %s: %.0f s so far, of about %s...', model_type,
                    time.monotonic() - started, _about(expected))


@contextlib.contextmanager
def announced_export(model_type: str, folder: str) -> Iterator[None]:
    """Around a first export into the cache folder ``folder``: say what is exported, about
    how long it takes and where it goes, log a progress line every ``PROGRESS_INTERVAL_S``,
    then the time taken (recorded as the next estimate for ``model_type``)."""
    cache_dir = os.path.dirname(os.path.abspath(folder))
    expected = expected_export_seconds(cache_dir, model_type)
    logger.info('Exporting %s once for fast CPU inference, about %s; cached in %s (later runs '
                'of these weights start at once).', model_type, _about(expected), folder)
    started = time.monotonic()
    stop = threading.Event()
    reporter = threading.Thread(target=_report_progress, name='export-progress', daemon=True,
                                args=(stop, model_type, started, expected))
    reporter.start()
    try:
        yield
    finally:
        stop.set()
        reporter.join()
    seconds = time.monotonic() - started
    logger.info('Exported %s in %.0f s.', model_type, seconds)
    _record_time(cache_dir, model_type, seconds)

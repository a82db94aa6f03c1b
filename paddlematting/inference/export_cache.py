"""The export cache's size bound: least recently used exports go first.

``predict.py``/``val.py --backend inference`` export each (config, checkpoint) pair once into
``<cache>/<64-hex key>/``. Every use touches the folder; after each new export the cache is
pruned, oldest use first, until it fits ``$PADDLEMATTING_EXPORT_CACHE_MB`` (default 2048 MB).
Only folders that look like our exports (a 64-hex name holding ``deploy.yaml``) are ever
counted or removed: anything else a user keeps there stays.
"""
import os
import re
import shutil
import time
from typing import List, NamedTuple, Optional

__all__ = ['CACHE_LIMIT_ENV', 'DEFAULT_LIMIT_MB', 'CacheEntry', 'cache_limit_bytes', 'entries',
           'touch', 'prune', 'clear']

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

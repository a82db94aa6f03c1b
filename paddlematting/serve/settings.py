"""What a ``paddlematting serve`` process runs: its models, limits and queue (``ServeSettings``).

The settings travel to uvicorn's worker processes as JSON in ``$PADDLEMATTING_SERVE_SETTINGS``
(``to_env`` / ``from_env``), so each worker builds the same app from them.
"""
import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Optional, Tuple

__all__ = ['ServeSettings', 'SETTINGS_ENV', 'DEFAULT_MAX_PIXELS', 'DEFAULT_MAX_BYTES']

SETTINGS_ENV = 'PADDLEMATTING_SERVE_SETTINGS'
# 4096 x 4096: a worker holds several photos at once, and one costs about 35 bytes per pixel
# along the chain (benchmarks/bench_memory.py), 0.6 GB at this size; the one-call API's own
# default cap (utils.pixel_limit, 100 megapixels) suits one photo at a time
DEFAULT_MAX_PIXELS = 4096 * 4096
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    """One server's configuration (the ``paddlematting serve`` flags).

    Attributes:
        host, port: where uvicorn listens (127.0.0.1 by default: not reachable from outside).
        models: (name or config, weights or None) of each segmenter served; the first is the
            default a request gets without ``model=``. Empty: the zoo's default segmenter.
        refiners: names (or configs) of the trimap-based refiners a request may choose;
            ``refiner_default`` (one of them, or None) runs when a request names none.
        workers: uvicorn worker processes, each with its own models, queue and metrics.
        max_queue: requests a worker holds at once (uploading, waiting or running); one more
            gets 503 with Retry-After.
        max_pixels, max_bytes: the largest photo (width x height) and upload; over: 413.
        read_timeout: seconds an upload (or a fetched URL) may take; over: 408.
        allow_url: whether ``GET /api/remove?url=`` fetches images (off by default).
        device, backend: as ``MattingSettings``.
    """
    host: str = '127.0.0.1'
    port: int = 7000
    models: Tuple[Tuple[str, Optional[str]], ...] = ()
    refiners: Tuple[str, ...] = ()
    refiner_default: Optional[str] = None
    workers: int = 1
    max_queue: int = 8
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES
    read_timeout: float = 60.0
    allow_url: bool = False
    device: Optional[str] = None
    backend: str = 'dygraph'

    def __post_init__(self) -> None:
        for name in ('port', 'workers', 'max_queue', 'max_pixels', 'max_bytes'):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == 'port' else 1):
                raise ValueError(f'ServeSettings.{name} must be a positive integer, got {value!r}.')
        if not self.read_timeout > 0:
            raise ValueError(f'ServeSettings.read_timeout must be a positive number of seconds, got '
                             f'{self.read_timeout!r} (--read-timeout).')
        if self.refiner_default is not None and self.refiner_default not in self.refiners:
            raise ValueError(f'ServeSettings.refiner_default {self.refiner_default!r} is not one of '
                             f'the refiners served ({", ".join(self.refiners) or "none"}).')

    def to_env(self) -> str:
        """These settings as the JSON ``from_env`` reads."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls) -> 'ServeSettings':
        """The settings a parent ``paddlematting serve`` put in ``$PADDLEMATTING_SERVE_SETTINGS``."""
        text = os.environ.get(SETTINGS_ENV)
        if not text:
            raise ValueError(f'${SETTINGS_ENV} is not set: start the server with `paddlematting serve`.')
        raw = json.loads(text)
        raw['models'] = tuple(tuple(pair) for pair in raw.get('models', ()))
        raw['refiners'] = tuple(raw.get('refiners', ()))
        return cls(**raw)

"""``paddlematting serve``: the matting server (HTTP API, web page, metrics), like ``rembg s``.

    paddlematting serve                                   the zoo's default chain on 127.0.0.1:7000
    paddlematting serve --model modnet-mobilenetv2 --refiner closed-form --port 8080
    paddlematting serve --model birefnet-lite --model modnet-mobilenetv2 --workers 2

Then ``curl -F file=@photo.jpg http://127.0.0.1:7000/api/remove -o cutout.png``, the page at
http://127.0.0.1:7000/ and the API docs at /docs. Every model named is loaded before the server
listens (each worker holds its own copy), so a bad name or weights file stops it here with one
line (exit 2). SIGTERM or Ctrl-C stops accepting connections and finishes the requests in
flight (at most --graceful-timeout seconds). Needs the ``serve`` extra:
``pip install "paddlematting[serve]"``.
"""
import argparse
import gc
import logging
import os
import sys
from typing import List, Optional

from .common import int_in, setup_logging
from .errors import reports_user_errors

logger = logging.getLogger('paddlematting')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from ..serve.settings import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, ServeSettings
    defaults = ServeSettings()
    parser = argparse.ArgumentParser(prog='paddlematting serve', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default=defaults.host,
                        help='address to listen on (default %(default)s: this machine only; 0.0.0.0: every interface)')
    parser.add_argument('--port', type=int_in(0, 65536), default=defaults.port, help='(default %(default)s)')
    parser.add_argument('--model', '-m', action='append', default=None, metavar='NAME|CONFIG',
                        help='a segmenter to serve (repeat for several; the first is the default '
                             'a request gets); default: the zoo\'s default chain')
    parser.add_argument('--weights', action='append', default=None, metavar='FILE',
                        help='weights replacing the zoo\'s, one per --model in order')
    parser.add_argument('--refiner', '-r', action='append', default=None, metavar='NAME',
                        help='a trimap-based refiner requests may use (repeat for several; the '
                             'first runs unless a request says refiner=none or a=false)')
    parser.add_argument('--workers', type=int_in(1, 257), default=defaults.workers,
                        help='worker processes, each with its own models and queue (default %(default)s)')
    parser.add_argument('--max-pixels', type=int_in(1, 1 << 40), default=DEFAULT_MAX_PIXELS,
                        help='the largest photo, width x height (default %(default)s = 4096x4096); over: 413')
    parser.add_argument('--max-bytes', type=int_in(1, 1 << 40), default=DEFAULT_MAX_BYTES,
                        help='the largest upload in bytes (default %(default)s = 32 MiB); over: 413')
    parser.add_argument('--max-queue', type=int_in(1, 1 << 20), default=defaults.max_queue,
                        help='requests a worker holds at once; one more gets 503 + Retry-After '
                             '(default %(default)s)')
    parser.add_argument('--read-timeout', type=float, default=defaults.read_timeout,
                        help='seconds an upload or a URL fetch may take (default %(default)s); over: 408')
    parser.add_argument('--graceful-timeout', type=float, default=120.0,
                        help='on SIGTERM, seconds to let requests in flight finish (default %(default)s)')
    parser.add_argument('--allow-url', action='store_true',
                        help='enable GET /api/remove?url= (public addresses only)')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    parser.add_argument('--backend', choices=('dygraph', 'inference'), default='dygraph')
    parser.add_argument('--log-level', choices=('debug', 'info', 'warning', 'error'), default='info',
                        help='uvicorn\'s (warning: no access log)')
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace):
    """The ``ServeSettings`` the flags describe; no flag naming a model: the zoo's default chain."""
    from ..serve.settings import ServeSettings
    from ..zoo import load_zoo
    names, weights = args.model or [], args.weights or []
    if len(weights) > len(names):
        raise ValueError(f'--weights: {len(weights)} given for {len(names)} --model; give one '
                         f'per --model, in order')
    refiners = tuple(args.refiner or ())
    if not names and not refiners:  # the default chain, as `paddlematting remove` runs it
        defaults = load_zoo().defaults
        names, refiners = [defaults['model']], tuple(r for r in [defaults.get('refiner')] if r)
    models = tuple((name, weights[i] if i < len(weights) else None) for i, name in enumerate(names))
    return ServeSettings(host=args.host, port=args.port, models=models, refiners=refiners,
                         refiner_default=refiners[0] if refiners else None, workers=args.workers,
                         max_queue=args.max_queue, max_pixels=args.max_pixels, max_bytes=args.max_bytes,
                         read_timeout=args.read_timeout, allow_url=args.allow_url,
                         device=args.device, backend=args.backend)


def _uvicorn():
    try:
        import uvicorn
        from ..serve.app import create_app
    except ImportError as error:
        raise OSError(f'paddlematting serve needs the serve extra ({error.name} is missing): '
                      f'pip install "paddlematting[serve]"') from None
    return uvicorn, create_app


@reports_user_errors
def main(argv: Optional[List[str]] = None) -> int:
    """Load the models, then serve until SIGTERM / Ctrl-C; 2 when a flag or model is unusable."""
    args = parse_args(argv)
    setup_logging()
    uvicorn, create_app = _uvicorn()
    from ..serve.chain import ServedModels
    from ..serve.settings import SETTINGS_ENV
    settings = settings_from_args(args)
    models = ServedModels(settings)
    models.load()  # one line and exit 2 for a bad name or weights; downloads happen once, here
    common = dict(host=settings.host, port=settings.port, log_level=args.log_level,
                  timeout_graceful_shutdown=args.graceful_timeout)
    logger.info('Serving %s on http://%s:%d/ (API docs at /docs)', ', '.join(models.segmenters),
                settings.host, settings.port)
    if settings.workers == 1:
        uvicorn.run(create_app(settings, models), **common)
    else:  # each worker process builds its own app (and models) from the settings
        del models
        gc.collect()
        os.environ[SETTINGS_ENV] = settings.to_env()
        uvicorn.run('paddlematting.serve.app:app_from_env', factory=True, workers=settings.workers, **common)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Pick the faster CPU engine for one exported model, once, at export time.

Which engine wins depends on the network and the machine (oneDNN and ONNX Runtime fuse
different ops), so ``export.py`` times both on the exporting machine and writes the winner
into deploy.yaml (``cpu_engine``, with the median milliseconds in ``engine_ms``). The
``Predictor`` uses it on CPU unless told otherwise (``--backend`` / ``engine=``).
"""
import logging
import statistics
import time
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .deploy_config import DeployConfig, load_deploy_config, write_deploy_config
from .engines import ENGINES, ONNXRUNTIME, PADDLE_INFERENCE, create_engine, default_threads

logger = logging.getLogger('paddlematting')

__all__ = ['representative_size', 'time_engine', 'choose_cpu_engine']

# the timing input's side when the transforms fix none; also its cap (timing stays short)
DEFAULT_SIDE = 512
MAX_SIDE = 1024
_SIZE_MULTIPLE = 32
# two engines running one model agree to float32 rounding (~1e-5); beyond this it is a bug
ENGINE_AGREEMENT = 1e-3


def representative_size(transforms: Sequence[dict]) -> Tuple[int, int]:
    """(h, w) the model typically runs at, read from the inference transforms: a fixed
    ``Resize`` target, ``ResizeByShort``'s short side or ``ResizeByLong``'s long side (square),
    else 512; rounded to a multiple of 32 and capped at 1024."""
    side_h = side_w = DEFAULT_SIDE
    for t in transforms:
        kind = t.get('type')
        if kind == 'Resize' and t.get('target_size'):
            size = t['target_size']
            side_w, side_h = (size, size) if isinstance(size, int) else (size[0], size[1])
        elif kind == 'ResizeByShort' and t.get('short_size'):
            side_h = side_w = int(t['short_size'])
        elif kind == 'ResizeByLong' and t.get('long_size'):
            side_h = side_w = int(t['long_size'])

    def fit(side: int) -> int:
        return max(_SIZE_MULTIPLE, min(MAX_SIDE, side // _SIZE_MULTIPLE * _SIZE_MULTIPLE))
    return fit(int(side_h)), fit(int(side_w))


def _timing_feeds(deploy: DeployConfig, size: Tuple[int, int]) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    h, w = size
    feeds = {'img': rng.standard_normal((1, 3, h, w)).astype(np.float32)}
    if deploy.needs_trimap:
        feeds['trimap'] = rng.choice(np.array([0, 128, 255], np.float32), size=(1, 1, h, w))
    return feeds


def time_engine(engine, feeds: Dict[str, np.ndarray], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``engine.run(feeds)`` in milliseconds, after ``warmup`` runs."""
    for _ in range(warmup):
        engine.run(feeds)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.run(feeds)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def choose_cpu_engine(folder: str, threads: Optional[int] = None,
                      size: Optional[Tuple[int, int]] = None, repeats: int = 5) -> DeployConfig:
    """Time every available engine on ``folder``'s model, record the fastest in deploy.yaml.

    Engines are timed in turns (ABAB...) so that machine noise hits both alike. An engine that
    cannot run the model here (no model.onnx, no onnxruntime) is left out with a log line.

    Returns:
        The updated DeployConfig (``cpu_engine``, ``engine_ms``).
    """
    deploy = load_deploy_config(folder)
    threads = threads or default_threads()
    size = size or representative_size(deploy.transforms)
    feeds = _timing_feeds(deploy, size)
    engines, first_outputs = {}, {}
    for name in ENGINES:
        if name == ONNXRUNTIME and deploy.onnx_path is None:
            continue
        try:
            engines[name] = create_engine(deploy, name, 'cpu', threads)
            # warm-up: first-run compilation is not what we compare
            first_outputs[name] = engines[name].run(feeds)[0]
        except (ImportError, RuntimeError, OSError) as error:
            logger.info('Engine %s cannot run %s here (%s); not timed.', name, folder, error)
            engines.pop(name, None)
    if len(first_outputs) == len(ENGINES):
        # the ONNX conversion can be wrong without failing (paddle2onnx's pool2d with uneven
        # adaptive grids): an engine that disagrees with Paddle's own program is never chosen
        gap = float(np.abs(first_outputs[ONNXRUNTIME] - first_outputs[PADDLE_INFERENCE]).max())
        if gap > ENGINE_AGREEMENT:
            logger.warning('The ONNX model in %s differs from the Paddle program by up to %.3g '
                           '(a conversion error); it is not used by default.', folder, gap)
            engines.pop(ONNXRUNTIME)
    timings = {name: [] for name in engines}
    for _ in range(repeats):
        for name, engine in engines.items():
            timings[name].append(time_engine(engine, feeds, repeats=1, warmup=0))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    if medians:
        deploy.cpu_engine = min(medians, key=medians.get)
        deploy.engine_ms = medians
        write_deploy_config(deploy)
        logger.info('CPU engine for %s: %s (median ms at %dx%d, %d threads: %s).', folder,
                    deploy.cpu_engine, size[0], size[1], threads,
                    ', '.join(f'{k} {v:.1f}' for k, v in medians.items()))
    else:
        deploy.cpu_engine = None
    return deploy

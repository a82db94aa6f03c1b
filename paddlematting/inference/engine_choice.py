"""Pick the fastest CPU engine for one exported model, once, at export time.

Which engine wins depends on the network and the machine (oneDNN, ONNX Runtime and OpenVINO
fuse different ops), so ``export.py`` times every engine installed on the exporting machine
and writes the winner into deploy.yaml (``cpu_engine``, with the median milliseconds in
``engine_ms``). The ``Predictor`` uses it on CPU unless told otherwise (``--backend`` /
``engine=``). Only engines whose outputs (every output, recurrent states included) agree
with the reference (the dygraph model at export, else Paddle Inference's run of the
program) within ``ENGINE_AGREEMENT`` take part. A recurrent model (RVM) is timed on its
second frame: the state the first one returned is fed back, as in a video.
"""
import logging
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .deploy_config import DeployConfig, load_deploy_config, write_deploy_config
from .engines import ENGINES, PADDLE_INFERENCE, create_engine, default_threads

# feeds -> every output of the model, in the program's order (e.g. the dygraph model's)
Reference = Callable[[Dict[str, np.ndarray]], List[np.ndarray]]

logger = logging.getLogger('paddlematting')

__all__ = ['representative_size', 'time_engine', 'choose_cpu_engine']

# the timing input's side when the transforms fix none; also its cap (timing stays short)
DEFAULT_SIDE = 512
MAX_SIDE = 1024
_SIZE_MULTIPLE = 32
# engines running one model agree to float32 rounding (~1e-5); beyond this it is a bug
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
    """A seeded smooth image (and blocky trimap) of ``size`` through the folder's own
    transforms, and for a recurrent model zero [1,C,1,1] states.

    Smooth, in the range the transforms give photographs: white noise drives a network's
    activations far out of their trained range, where float32 rounding alone parts
    engines by more than ``ENGINE_AGREEMENT``.
    """
    import cv2
    from ..builders.dataset import build_transforms
    from ..pipeline.prediction import prepare_sample
    rng = np.random.default_rng(0)
    h, w = size
    coarse = rng.integers(0, 256, (max(1, h // 16), max(1, w // 16), 3), dtype=np.uint8)
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    trimap = None
    if deploy.needs_trimap:
        codes = rng.choice(np.array([0, 128, 255], np.uint8), size=coarse.shape[:2])
        trimap = cv2.resize(codes, (w, h), interpolation=cv2.INTER_NEAREST)
    sample = prepare_sample(image, trimap, build_transforms(deploy.transforms, deploy.folder))
    feeds = {'img': sample['img']}
    if trimap is not None:
        feeds['trimap'] = sample['trimap']
    feeds.update({name: np.zeros((1, c, 1, 1), np.float32)
                  for name, c in zip(deploy.state_names, deploy.state_channels)})
    return feeds


def second_frame_feeds(deploy: DeployConfig, feeds: Dict[str, np.ndarray],
                       run: Reference) -> Dict[str, np.ndarray]:
    """For a recurrent model, ``feeds`` with the states one ``run`` of them returned (the
    program returns its new states last): what every later frame of a video looks like.
    Other models: ``feeds`` unchanged."""
    if not deploy.state_names:
        return feeds
    outputs = run(feeds)
    states = outputs[len(outputs) - len(deploy.state_names):]
    return dict(feeds, **{name: np.asarray(s, np.float32)
                          for name, s in zip(deploy.state_names, states)})


def _last_outputs(deploy: DeployConfig, feeds: Dict[str, np.ndarray],
                  run: Reference) -> List[np.ndarray]:
    """The outputs proper (not the states) of ``run`` on ``feeds``; for a recurrent model on
    the second frame, the state of the first carried by ``run`` itself."""
    outputs = run(second_frame_feeds(deploy, feeds, run))
    return [np.asarray(out) for out in outputs[:len(outputs) - len(deploy.state_names)]]


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


def _open_engines(deploy: DeployConfig, threads: int) -> Dict[str, object]:
    """Every engine that can open ``deploy``'s folder here; the others get a log line."""
    engines = {}
    for name in ENGINES:
        try:
            engines[name] = create_engine(deploy, name, 'cpu', threads)
        except (ImportError, RuntimeError, OSError) as error:
            logger.info('Engine %s cannot run %s here (%s); not timed.', name, deploy.folder,
                        error)
    return engines


def _agreeing(engines: Dict[str, object], deploy: DeployConfig, feeds: Dict[str, np.ndarray],
              reference: List[np.ndarray], what: str) -> Dict[str, object]:
    """The engines whose outputs (``_last_outputs``) are within ``ENGINE_AGREEMENT`` of
    ``reference``; these runs are also each engine's warm-up (first-run compilation is not
    what we compare). A recurrent state is judged by the outputs it leads to, not by itself:
    hidden states carry no unit, and float32 rounding alone moves RVM's by ~1e-3."""
    kept = {}
    for name, engine in engines.items():
        outputs = _last_outputs(deploy, feeds, engine.run)
        gaps = [float(np.abs(got - want).max()) if got.shape == want.shape else float('inf')
                for got, want in zip(outputs, reference)]
        gap = max(gaps) if len(outputs) == len(reference) else float('inf')
        if gap > ENGINE_AGREEMENT:
            # a conversion can be wrong without failing (paddle2onnx's pool2d with uneven
            # adaptive grids): an engine that disagrees is never chosen
            logger.warning('The %s engine on %s differs from %s by up to %.3g (a conversion '
                           'error); it is not used by default.', name, deploy.folder, what, gap)
            continue
        kept[name] = engine
    return kept


def choose_cpu_engine(folder: str, threads: Optional[int] = None,
                      size: Optional[Tuple[int, int]] = None, repeats: int = 5,
                      reference: Optional[Reference] = None) -> DeployConfig:
    """Time every available engine on ``folder``'s model, record the fastest in deploy.yaml.

    Args:
        reference: the model's outputs for given feeds (export passes the dygraph model);
            default Paddle Inference's run of the folder's program.
    Engines are timed in turns (ABCABC...) so that machine noise hits all alike. An engine
    that cannot run the model here (no model.onnx, not installed) or that disagrees with the
    reference is left out with a log line.

    Returns:
        The updated DeployConfig (``cpu_engine``, ``engine_ms``; ``cpu_engine`` None when no
        engine was left).
    """
    deploy = load_deploy_config(folder)
    threads = threads or default_threads()
    size = size or representative_size(deploy.transforms)
    engines = _open_engines(deploy, threads)
    what = 'the dygraph model'
    if reference is None and PADDLE_INFERENCE in engines:
        reference, what = engines[PADDLE_INFERENCE].run, 'the Paddle program'
    feeds = _timing_feeds(deploy, size)
    if reference is None:
        logger.warning('Nothing to check the engines on %s against (Paddle Inference cannot '
                       'open it); no CPU engine is recorded.', folder)
        engines = {}
    else:
        engines = _agreeing(engines, deploy, feeds, _last_outputs(deploy, feeds, reference),
                            what)
        feeds = second_frame_feeds(deploy, feeds, reference)
    timings = {name: [] for name in engines}
    for _ in range(repeats):
        for name, engine in engines.items():
            timings[name].append(time_engine(engine, feeds, repeats=1, warmup=0))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    deploy.cpu_engine = min(medians, key=medians.get) if medians else None
    deploy.engine_ms = medians
    write_deploy_config(deploy)  # also when none is left: an older choice must not stay
    if medians:
        logger.info('CPU engine for %s: %s (median ms at %dx%d, %d threads: %s).', folder,
                    deploy.cpu_engine, size[0], size[1], threads,
                    ', '.join(f'{k} {v:.1f}' for k, v in medians.items()))
    return deploy

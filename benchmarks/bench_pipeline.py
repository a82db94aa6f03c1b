"""What predict.py costs over the model: pipeline time / model-call time at 720p and 1080p.

Usage: python benchmarks/bench_pipeline.py [--images 6] [--rounds 3] [--threads 2]
           [--sizes 720p 1080p] [--work_dir DIR]

What runs: ``predict.images.predict_images``, the function behind predict.py, with predict.py's
defaults (``NAME_alpha.png`` and ``NAME_rgba.png`` with blur-fusion foreground colours, batch
1), on ``--images`` JPEGs per size (the six shipped photos stretched), with MODNet-MobileNetV2
(random weights, seed 0) exported as predict.py exports it and run by the default Predictor
(the engine the export timed fastest). Everything predict.py does per image is inside the
time: read, transforms, model, restore, foreground estimation, cut-out, PNG writes (the
writes still in flight at the end are waited for).

The model's share is timed inside the same run (a wrapper around the Predictor), so a change
of machine load inflates both alike; the ratio is the whole loop's wall time over the sum of
the model calls. Two mattes, in turns, round by round:

- ``model``: the network's own output. Random weights give a matte that is soft (0 < alpha <
  1) everywhere, the worst case for foreground estimation.
- ``true matte``: the network still runs (and is timed), but its output is replaced by the
  photo's true matte (the shipped alpha at the prepared size), so the stages after the model
  see what a trained model gives: opaque and clear regions with a soft band.

Reported: medians over ``--rounds`` of images/s, s/image, model s/image and the ratio, with the
1-minute load average before and after.
"""
import argparse
import glob
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')
DATA = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres')
SIZES = {'720p': (1280, 720), '1080p': (1920, 1080)}


def make_inputs(folder: str, count: int, size: Tuple[int, int]) -> List[np.ndarray]:
    """``count`` JPEGs of ``size`` (w, h) in ``folder``; returns their true mattes uint8 [h, w]."""
    from paddlematting.utils.image_io import read_alpha, read_image
    sources = sorted(glob.glob(os.path.join(DATA, 'val', 'fg', '*.png')))
    os.makedirs(folder, exist_ok=True)
    mattes = []
    for i in range(count):
        source = sources[i % len(sources)]
        image = cv2.resize(read_image(source), size, interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(os.path.join(folder, f'img{i:02d}.jpg'), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
        alpha = read_alpha(os.path.join(DATA, 'val', 'alpha', os.path.basename(source)))
        mattes.append(alpha)
    return mattes


class TimedRunner:
    """The Predictor, timed per call; with ``mattes`` its output is replaced, call by call, by
    those mattes resized to the output's size (float32 in [0, 1])."""

    def __init__(self, predictor, mattes: Optional[List[np.ndarray]] = None):
        self.predictor = predictor
        self.transforms = predictor.transforms
        self.mattes = mattes
        self.calls = 0
        self.seconds: List[float] = []

    def __call__(self, img: np.ndarray, trimap: Optional[np.ndarray] = None) -> np.ndarray:
        start = time.perf_counter()
        out = self.predictor(img, trimap)
        self.seconds.append(time.perf_counter() - start)
        if self.mattes is not None:
            matte = self.mattes[self.calls % len(self.mattes)]
            h, w = out.shape[-2:]
            resized = cv2.resize(matte, (w, h), interpolation=cv2.INTER_LINEAR)
            out = (resized.astype(np.float32) / 255.0).reshape(out.shape)
        self.calls += 1
        return out


def one_round(predictor, folder: str, save_dir: str, mattes: Optional[List[np.ndarray]]) -> dict:
    """predict_images over every input of ``folder``: wall and model seconds per image."""
    from paddlematting.predict.images import PredictOptions, predict_images
    from paddlematting.predict.input_collection import collect_inputs
    inputs = collect_inputs(folder)
    runner = TimedRunner(predictor, mattes)
    start = time.perf_counter()
    result = predict_images(runner, predictor.transforms, inputs, save_dir,
                            PredictOptions(show_progress=False))
    wall = time.perf_counter() - start
    if result.failed:
        raise RuntimeError(f'predict_images failed: {result.failed[0]}')
    model = sum(runner.seconds)
    return {'per_image': wall / len(inputs), 'model': model / len(inputs), 'ratio': wall / model}


def bench_size(predictor, work_dir: str, label: str, args: argparse.Namespace) -> Dict[str, dict]:
    folder = os.path.join(work_dir, 'in_' + label)
    mattes = make_inputs(folder, args.images, SIZES[label])
    cases: Dict[str, Optional[List[np.ndarray]]] = {'model': None, 'true matte': mattes}
    one_round(predictor, folder, os.path.join(work_dir, 'warm'), None)  # warm-up
    rounds: Dict[str, List[dict]] = {case: [] for case in cases}
    for r in range(args.rounds):
        order = list(cases) if r % 2 == 0 else list(cases)[::-1]
        for case in order:
            out = os.path.join(work_dir, f'out_{label}_{case.replace(" ", "_")}')
            rounds[case].append(one_round(predictor, folder, out, cases[case]))
    return {case: {key: statistics.median(r[key] for r in results) for key in results[0]}
            for case, results in rounds.items()}


def exported_predictor(work_dir: str, threads: int):
    """MODNet-MobileNetV2 with random weights (seed 0), exported and loaded as predict.py does."""
    import paddle
    from paddlematting.builders.model import build_model
    from paddlematting.config import Config
    from paddlematting.inference import Predictor, export_checkpoint_cached
    weights = os.path.join(work_dir, 'modnet_mobilenetv2_random.pdparams')
    cfg = Config(CONFIG, opts=['model.backbone.pretrained=null'])
    if not os.path.isfile(weights):
        paddle.seed(0)
        paddle.save(build_model(cfg).state_dict(), weights)
    folder = export_checkpoint_cached(cfg, weights, os.path.join(work_dir, 'exports'))
    return Predictor(folder, device='cpu', threads=threads)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=6, help='photos per size')
    parser.add_argument('--rounds', type=int, default=3, help='rounds in turns (medians)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--sizes', nargs='+', default=list(SIZES), choices=list(SIZES))
    parser.add_argument('--work_dir', default=None, help='keeps the export between runs')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='bench_pipeline_') as tmp:
        work_dir = os.path.abspath(args.work_dir or tmp)
        predictor = exported_predictor(work_dir, args.threads)
        print(f'engine {predictor.engine_name}, {args.threads} threads, {args.images} images, '
              f'{args.rounds} rounds')
        print('| input | matte | images/s | s/image | model s/image | pipeline / model | load |')
        print('|---|---|---|---|---|---|---|')
        for label in args.sizes:
            load = os.getloadavg()[0]
            results = bench_size(predictor, work_dir, label, args)
            load = f'{load:.2f} -> {os.getloadavg()[0]:.2f}'
            for case, r in results.items():
                print(f"| {label} | {case} | {1 / r['per_image']:.2f} | {r['per_image']:.3f} | "
                      f"{r['model']:.3f} | {r['ratio']:.2f} | {load} |", flush=True)


if __name__ == '__main__':
    main()

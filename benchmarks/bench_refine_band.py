"""How wide the automatic trimap's unknown band should be: whole-image SAD on the shipped photos.

Usage: python benchmarks/bench_refine_band.py [--widths 0.0025 0.005 0.01 0.02] [--refiner closed-form]

For each of the six shipped photos (data/alphamatting_lowres/val: photo, true alpha, the
benchmark's two hand-drawn trimaps) the coarse mask is ``true alpha > 0.5``: what a perfect
segmenter's hard mask would be. Rows, each through ``pm.Matting(refiner=...)`` (tiles and all):

- bare mask: the hard mask as the matte;
- hand trimap 1 / 2: the refiner on the benchmark's Trimap1 (small unknown region) / Trimap2;
- band w: the refiner on ``auto_trimap(mask)`` with a margin of w x the long side on each side
  of the edge (800-pixel-wide photos: 0.5 % is 4 pixels).

Reported: whole-image SAD / 1000 (alpha in [0, 1]) per photo and the mean, and the seconds per
photo of each row (wall time, this machine).
"""
import argparse
import os
import sys
import time
from typing import Dict, List

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import paddlematting as pm  # noqa: E402
from paddlematting.predict.auto_trimap import BandOptions  # noqa: E402
from paddlematting.utils.image_io import read_alpha, read_image, read_trimap  # noqa: E402

VAL = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val')
NAMES = ('GT05', 'GT11', 'GT14', 'GT19', 'GT20', 'GT24')


def sad(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Whole-image SAD / 1000 of two [0, 1] mattes."""
    return float(np.abs(alpha.astype(np.float64) - truth).sum() / 1000.0)


def measure(refiner: str, widths: List[float]) -> Dict[str, Dict[str, tuple]]:
    """row -> photo -> (SAD, seconds)."""
    rows: Dict[str, Dict[str, tuple]] = {}
    plain = pm.Matting(refiner=refiner)
    banded = {w: pm.Matting(refiner=refiner, settings=pm.MattingSettings(band=BandOptions(width=w)))
              for w in widths}
    for name in NAMES:
        image = read_image(os.path.join(VAL, 'fg', f'{name}.png'))
        truth = read_alpha(os.path.join(VAL, 'alpha', f'{name}.png')) / 255.0
        mask = truth > 0.5
        rows.setdefault('bare mask', {})[name] = (sad(mask, truth), 0.0)
        for label, folder in (('hand trimap 1', 'trimap'), ('hand trimap 2', 'trimap2')):
            start = time.perf_counter()
            alpha = plain.alpha(image, trimap=read_trimap(os.path.join(VAL, folder, f'{name}.png')))
            rows.setdefault(label, {})[name] = (sad(alpha, truth), time.perf_counter() - start)
        for width, matting in banded.items():
            start = time.perf_counter()
            alpha = matting.alpha(image, mask=mask)
            rows.setdefault(f'band {width * 100:g} %', {})[name] = (sad(alpha, truth),
                                                                   time.perf_counter() - start)
        print(f'{name} done', file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--widths', type=float, nargs='+', default=[0.0025, 0.005, 0.01, 0.02])
    parser.add_argument('--refiner', default='closed-form')
    args = parser.parse_args()
    rows = measure(args.refiner, args.widths)
    print(f'| {args.refiner} on | ' + ' | '.join(NAMES) + ' | mean SAD | s / photo |')
    print('|-' * (len(NAMES) + 3) + '|')
    for label, per_photo in rows.items():
        sads = [per_photo[n][0] for n in NAMES]
        seconds = np.median([per_photo[n][1] for n in NAMES])
        print(f'| {label} | ' + ' | '.join(f'{v:.2f}' for v in sads)
              + f' | **{np.mean(sads):.2f}** | {seconds:.1f} |')


if __name__ == '__main__':
    main()

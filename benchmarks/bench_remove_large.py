"""A large photo through the refine chain: time and memory of closed-form refinement at full size.

Usage: python benchmarks/bench_remove_large.py [--scale 5] [--fg-method blur_fusion]

The shipped photo GT11 (800x552, a fuzzy plant head) and its true alpha are resized by --scale
(5: 4000x2760, about the 12 megapixels of a phone photo); the coarse mask is the resized
alpha > 0.5. One ``pm.Matting(refiner='closed-form').remove(photo, mask=mask)`` runs in this
process after one warm-up on the small photo (numba's first compile is not counted). Reported:
wall and CPU seconds, the number of refiner tiles, the band's share of the photo, peak RSS
growth over the warmed-up process, and the whole-image SAD of the refined matte and of the mask
against the resized truth (a sanity check: refining must still help at full size).
"""
import argparse
import os
import resource
import sys
import time

import cv2
import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import paddlematting as pm  # noqa: E402
from paddlematting.predict.auto_trimap import BandOptions, auto_trimap  # noqa: E402
from paddlematting.predict.refine import TileOptions, tile_boxes  # noqa: E402
from paddlematting.utils.image_io import read_alpha, read_image  # noqa: E402

VAL = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val')


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scale', type=float, default=5.0)
    parser.add_argument('--fg-method', default='blur_fusion')
    args = parser.parse_args()
    photo = read_image(os.path.join(VAL, 'fg', 'GT11.png'))
    truth = read_alpha(os.path.join(VAL, 'alpha', 'GT11.png'))
    matting = pm.Matting(refiner='closed-form')
    matting.remove(photo, mask=truth > 127)  # warm-up: model build, numba compile
    size = (int(photo.shape[1] * args.scale), int(photo.shape[0] * args.scale))
    photo = cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC)
    truth = cv2.resize(truth, size, interpolation=cv2.INTER_LINEAR) / 255.0
    mask = truth > 0.5
    trimap = auto_trimap(mask, BandOptions())
    tiles = len(tile_boxes(trimap, TileOptions()))
    base = peak_rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    rgba = matting.remove(photo, mask=mask, fg_method=args.fg_method)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    alpha = rgba[:, :, 3] / 255.0
    print(f'photo {size[0]}x{size[1]}; band {np.mean(trimap == 128) * 100:.1f} % of the pixels, '
          f'{tiles} tiles of 512 (+32)')
    print(f'remove(): {wall:.1f} s wall, {cpu:.1f} s CPU; peak RSS +{peak_rss_mb() - base:.0f} MB '
          f'over the warmed-up process ({peak_rss_mb():.0f} MB)')
    print(f'whole-image SAD/1000: mask {np.abs(mask - truth).sum() / 1000:.1f}, refined '
          f'{np.abs(alpha - truth).sum() / 1000:.1f}; output {rgba.shape}')


if __name__ == '__main__':
    main()

"""Time SAD, MSE, Grad and Conn on one synthetic 1080x1920 matte.

Usage: python benchmarks/bench_metrics.py [--runs 5]
Prints each metric's median time over the runs (after one warm-up) and the machine load.
"""
import argparse
import os
import time

import numpy as np
from scipy import ndimage

from paddlematting.metrics import build_metrics


def synthetic_matte(height: int = 1080, width: int = 1920, seed: int = 0):
    """(pred, gt, trimap) uint8 [H, W]: a soft-edged blob, a noisy estimate of it, its trimap."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    radius = np.hypot((rows - height / 2) / (0.35 * height), (cols - width / 2) / (0.3 * width))
    # a wavy boundary gives Conn several components to label at the soft edge
    radius += 0.05 * np.sin(cols / 23.0) * np.cos(rows / 17.0)
    gt = np.clip((1.1 - radius) / 0.2, 0, 1)
    pred = np.clip(ndimage.gaussian_filter(gt, 3) + rng.normal(0, 0.05, gt.shape), 0, 1)
    trimap = np.full(gt.shape, 128, dtype=np.uint8)
    trimap[gt == 0] = 0
    trimap[gt == 1] = 255
    trimap[ndimage.binary_dilation((gt > 0) & (gt < 1), iterations=10)] = 128
    return ((pred * 255).round().astype(np.uint8), (gt * 255).round().astype(np.uint8), trimap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()

    pred, gt, trimap = synthetic_matte()
    metrics = build_metrics(['sad', 'mse', 'grad', 'conn'])
    print(f'matte {gt.shape[0]}x{gt.shape[1]}, {args.runs} runs after 1 warm-up, '
          f'load average before {os.getloadavg()}')
    total = 0.0
    for name, metric in metrics.items():
        metric.update(pred, gt, trimap)  # warm-up
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            value = metric.update(pred, gt, trimap)
            times.append(time.perf_counter() - start)
        median = float(np.median(times))
        total += median
        print(f'{name:5s} median {median * 1000:8.1f} ms   value {value:.4f}')
    print(f'all four {total * 1000:8.1f} ms   load average after {os.getloadavg()}')


if __name__ == '__main__':
    main()

"""Peak memory of predict.py on large photos: peak RSS of a fresh process per size, bytes per pixel.

Usage: python benchmarks/bench_memory.py [--sizes 12 48] [--fg_method blur_fusion]
           [--backend inference] [--work_dir DIR] [--threads 2]

What runs: ``predict.py`` with MODNet-MobileNetV2 (random weights, seed 0: the cost does not
depend on the values) and the default outputs (``NAME_alpha.png`` and ``NAME_rgba.png`` with
blur-fusion foreground colours), one JPEG per run, each in its own fresh process. The model
is exported once first (a warm-up run on a small image fills the export cache in the work
folder), so no run includes the export.

The photos: the shipped GT05 photo stretched to 4000x3000 (12 MP) and 8000x6000 (48 MP) with
Gaussian noise (sigma 3) added, so they compress like camera photos rather than like a smooth
upscale (the encoded PNG's size is part of the peak). The random weights give a matte that is
soft (0 < alpha < 1) everywhere, the worst case for foreground estimation.

Reported per size: the process's peak RSS (``ru_maxrss`` from ``os.wait4``: the high-water
mark of the whole process, interpreter, Paddle and ONNX Runtime included), the same for a
64x48 photo (the fixed cost of the process), and the bytes per pixel of the difference,
(peak - fixed) / pixels, the figure that says how memory grows with the photo.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')
PHOTO = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val', 'fg', 'GT05.png')
# megapixels -> (width, height)
SIZES: Dict[int, Tuple[int, int]] = {12: (4000, 3000), 48: (8000, 6000), 24: (6000, 4000),
                                     96: (12000, 8000)}
FIXED_SIZE = (64, 48)
NOISE_SIGMA = 3.0

WEIGHTS_CHILD = r'''
import sys, paddle
sys.path.insert(0, {repo!r})
from paddlematting.config import Config
from paddlematting.builders.model import build_model
paddle.seed(0)
model = build_model(Config({config!r}, opts=['model.backbone.pretrained=null']))
paddle.save(model.state_dict(), {path!r})
'''


def make_weights(path: str) -> None:
    """Random MODNet-MobileNetV2 weights (seed 0) saved at ``path``."""
    code = WEIGHTS_CHILD.format(repo=REPO_ROOT, config=CONFIG, path=path)
    subprocess.run([sys.executable, '-c', code], check=True, capture_output=True)


def make_photo(path: str, size: Tuple[int, int]) -> None:
    """A JPEG of ``size`` (w, h): the shipped photo stretched, plus camera-like noise."""
    image = cv2.resize(cv2.imread(PHOTO), size, interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    for y in range(0, size[1], 500):  # in bands: a float copy of 48 MP would be 576 MB
        band = image[y:y + 500].astype(np.float32)
        band += rng.normal(0.0, NOISE_SIGMA, band.shape).astype(np.float32)
        image[y:y + 500] = np.clip(np.rint(band), 0, 255).astype(np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 92])


def run_predict(image_dir: str, save_dir: str, args: argparse.Namespace, env: dict) -> int:
    """Run predict.py on ``image_dir`` in a fresh process; return its peak RSS in bytes."""
    command = [sys.executable, os.path.join(REPO_ROOT, 'predict.py'), '--config', CONFIG,
               '--opts', 'model.backbone.pretrained=null', '--model_path', args.weights,
               '--image_path', image_dir, '--save_dir', save_dir, '--fg_method', args.fg_method,
               '--backend', args.backend]
    with open(os.path.join(save_dir + '.log'), 'w') as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f'predict.py exited {process.returncode}; see {save_dir}.log')
    return usage.ru_maxrss * 1024  # Linux reports KiB


def measure(args: argparse.Namespace) -> List[dict]:
    """Warm-up (export), the fixed cost, then one run per size, in that order."""
    env = dict(os.environ, PADDLEMATTING_EXPORT_CACHE=os.path.join(args.work_dir, 'exports'),
               OMP_NUM_THREADS=str(args.threads))
    rows = []
    for label, size in [('warm-up', FIXED_SIZE), ('fixed', FIXED_SIZE)] + \
            [(f'{mp} MP', SIZES[mp]) for mp in args.sizes]:
        folder = os.path.join(args.work_dir, f'in_{size[0]}x{size[1]}')
        if not os.path.isdir(folder):
            make_photo(os.path.join(folder, 'photo.jpg'), size)
        out = os.path.join(args.work_dir, f'out_{label.replace(" ", "")}')
        peak = run_predict(folder, out, args, env)
        rows.append({'label': label, 'size': size, 'peak': peak, 'load': os.getloadavg()[0]})
        print(f'{label:8s} {size[0]}x{size[1]}: peak RSS {peak / 2**20:.0f} MiB', flush=True)
    return rows[1:]


def print_table(rows: List[dict], args: argparse.Namespace) -> None:
    fixed = rows[0]['peak']
    print(f'\npredict.py, MODNet-MobileNetV2 (random weights), --backend {args.backend}, '
          f'--fg_method {args.fg_method}, alpha + rgba PNGs, {args.threads} threads')
    print('| photo | pixels | peak RSS MiB | above the fixed cost MiB | bytes per pixel | load |')
    print('|---|---|---|---|---|---|')
    for row in rows:
        w, h = row['size']
        extra = row['peak'] - fixed
        per_pixel = '-' if row is rows[0] else f'{extra / (w * h):.1f}'
        print(f"| {w}x{h} | {w * h / 1e6:.1f} M | {row['peak'] / 2**20:.0f} | "
              f"{extra / 2**20:.0f} | {per_pixel} | {row['load']:.2f} |")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[12, 48], choices=sorted(SIZES),
                        help='megapixels: 12 = 4000x3000, 24 = 6000x4000, 48 = 8000x6000, '
                             '96 = 12000x8000')
    parser.add_argument('--fg_method', default='blur_fusion')
    parser.add_argument('--backend', default='inference')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--work_dir', default=None,
                        help='keeps the weights, export and photos between runs (default: a '
                             'temporary folder)')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='bench_memory_') as tmp:
        args.work_dir = os.path.abspath(args.work_dir or tmp)
        os.makedirs(args.work_dir, exist_ok=True)
        args.weights = os.path.join(args.work_dir, 'modnet_mobilenetv2_random.pdparams')
        if not os.path.isfile(args.weights):
            make_weights(args.weights)
        print(f'load average {os.getloadavg()[0]:.2f}; work folder {args.work_dir}', flush=True)
        print_table(measure(args), args)


if __name__ == '__main__':
    main()

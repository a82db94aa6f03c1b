"""Images/s of the Ray Data batch job against predict.py on the same 200 images, same threads.

Usage: python benchmarks/bench_batch.py [--images 200] [--size 320x240] [--short-size 256]

The images are generated once (random RGB, --size), the model is MODNet-MobileNetV2 with
seeded random weights (nothing is downloaded; trained weights cost the same time) and its val
transforms at --short-size. Three runs, one each, in turns, every one a fresh command as a user
types it, each using all T cores of the machine (the local Ray sees them all):
- predict.py: one process, OMP_NUM_THREADS = T;
- ``paddlematting batch --concurrency T``: T actors, 1 thread each;
- ``paddlematting batch --concurrency 1``: one actor with T threads.
Reported: the wall time of the whole command (start-up, Ray's included) and the images/s the
job's own final line gives (model loading in the actors included, Ray's start-up not), with the
1-minute load average before and after each run. The outputs of the three runs are compared.
"""
import argparse
import filecmp
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')


def write_inputs(folder: str, count: int, size: str) -> None:
    from paddlematting.utils.image_io import write_png
    width, height = (int(v) for v in size.split('x'))
    rng = np.random.default_rng(0)
    for i in range(count):
        write_png(os.path.join(folder, f'{i:04d}.png'),
                  rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def write_model(folder: str, short_size: int):
    """(config, weights) of MODNet-MobileNetV2 with seeded random weights, written in a child
    process so that this one never loads paddle."""
    config = os.path.join(folder, 'modnet.yml')
    with open(config, 'w') as f:
        f.write(f'_base_: {CONFIG}\nval_dataset:\n  transforms:\n    - type: LoadImages\n'
                f'    - type: ResizeByShort\n      short_size: {short_size}\n'
                f'    - type: ResizeToIntMult\n      mult_int: 32\n    - type: Normalize\n'
                f'model:\n  type: MODNet\n  backbone:\n    type: MobileNetV2\n'
                f'    pretrained: null\n  pretrained: null\n')
    weights = os.path.join(folder, 'modnet.pdparams')
    code = ('import paddle; from paddlematting.config import Config; '
            'from paddlematting.builders.model import build_model; paddle.seed(0); '
            f'paddle.save(build_model(Config({config!r})).state_dict(), {weights!r})')
    subprocess.run([sys.executable, '-c', code], check=True, capture_output=True)
    return config, weights


def timed(command, threads: int):
    """(wall seconds, images/s from the job's final line or None, load before, load after)."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(command, env=dict(os.environ, OMP_NUM_THREADS=str(threads)),
                          capture_output=True, text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f'{command[:4]} failed ({done.returncode}):\n{done.stderr[-3000:]}')
    rate = re.search(r'\(([\d.]+) images/s\)', done.stderr)
    return wall, float(rate.group(1)) if rate else None, load, os.getloadavg()[0]


def compare_outputs(a: str, b: str) -> str:
    """How b's PNGs differ from a's: files, byte-equal ones, and the largest 8-bit difference
    (another thread count adds float32 sums in another order: a level or so, at most)."""
    import cv2
    names = sorted(n for n in os.listdir(a) if n.endswith('.png'))
    if names != sorted(n for n in os.listdir(b) if n.endswith('.png')):
        return 'other file names'
    same = sum(filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False) for n in names)
    worst = max(int(np.abs(cv2.imread(os.path.join(a, n), cv2.IMREAD_UNCHANGED).astype(int) -
                           cv2.imread(os.path.join(b, n), cv2.IMREAD_UNCHANGED)).max())
                for n in names)
    return f'{same}/{len(names)} files byte-equal, max difference {worst}/255'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=200)
    parser.add_argument('--size', default='320x240', help='WIDTHxHEIGHT of the generated images')
    parser.add_argument('--short-size', type=int, default=256)
    args = parser.parse_args()
    args.threads = os.cpu_count()
    work = tempfile.mkdtemp(prefix='bench_batch_')
    inputs = os.path.join(work, 'in')
    write_inputs(inputs, args.images, args.size)
    config, weights = write_model(work, args.short_size)
    model = ['--weights', weights]
    batch = [sys.executable, '-m', 'paddlematting.cli.main', 'batch', '--input', inputs,
             '--model', config, *model]
    runs = {
        'predict.py': [sys.executable, 'predict.py', '--config', config, *model, '--device', 'cpu',
                       '--backend', 'dygraph', '--image_path', inputs,
                       '--save_dir', os.path.join(work, 'predict.py')],
        f'batch {args.threads} actors x 1 thread': batch + [
            '--output', os.path.join(work, 'actors'), '--concurrency', str(args.threads)],
        f'batch 1 actor x {args.threads} threads': batch + [
            '--output', os.path.join(work, 'actor'), '--concurrency', '1'],
    }
    print(f'{args.images} images {args.size}, MODNet-MobileNetV2 at short side {args.short_size}, '
          f'{args.threads} threads, {os.cpu_count()} cores; {work}')
    print('| run | wall s (whole command) | images/s (whole command) | images/s (job line) | '
          'load before / after |\n|-|-|-|-|-|')
    for name, command in runs.items():
        # the batch driver computes nothing: its actors get their threads from the job
        wall, rate, before, after = timed(command, args.threads if name == 'predict.py' else 1)
        shown = f'{rate:.2f}' if rate is not None else '-'
        print(f'| {name} | {wall:.1f} | {args.images / wall:.2f} | {shown} | '
              f'{before:.2f} / {after:.2f} |', flush=True)
    for folder in ('actors', 'actor'):
        print(f'{folder} against predict.py:',
              compare_outputs(os.path.join(work, 'predict.py'), os.path.join(work, folder)))


if __name__ == '__main__':
    main()

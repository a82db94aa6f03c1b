"""ViTMatte-S/-B: dygraph against the exported program, in turns, and the peak memory of one
large image.

Usage:
    python benchmarks/bench_vitmatte.py [--models small base] [--sizes 512 1024] [--repeats 3]
        [--engines paddle_inference onnxruntime]
    python benchmarks/bench_vitmatte.py --large 4000x3000 --models small
    python benchmarks/bench_vitmatte.py --large 3008x512 --models small --opts model.band_min_pixels=0

Speed: each model is built from its config with random weights (seed 0: the cost does not
depend on the values), exported once with dynamic sizes (ONNX too when onnxruntime is among
the engines); then, per size, one warm-up run of each runner and ``--repeats`` rounds in
which every runner runs once in turn (dygraph, then each exported engine), so a busy machine
slows them alike. Reported: the median and minimum seconds of batch 1, image + trimap, the
output copied to numpy.
Memory (``--large``): one dygraph run at that size in a fresh process; its peak RSS
(``ru_maxrss``, interpreter and Paddle included) and its time. The decoder's bands hold a
fixed number of rows, so a strip as wide as the photo with the bands forced (the second form)
has the photo's decoder peak; only the backbone's tokens grow with the height.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
CONFIGS = {name: os.path.join(REPO_ROOT, 'configs', 'vitmatte', f'vitmatte-{name}-composition1k.yml')
           for name in ('small', 'base')}


def build(name: str, opts=()):
    import paddle
    from paddlematting import Config
    from paddlematting.builders import build_model
    paddle.seed(0)
    model = build_model(Config(CONFIGS[name], opts=['model.pretrained=null'] + list(opts)))
    model.eval()
    return model


def inputs(height: int, width: int):
    """A normalised image and a trimap whose middle third of the rows is unknown."""
    rng = np.random.default_rng(0)
    img = rng.uniform(-1, 1, (1, 3, height, width)).astype(np.float32)
    trimap = np.zeros((1, 1, height, width), np.float32)
    trimap[:, :, height // 3:] = 128.0
    trimap[:, :, 2 * height // 3:] = 255.0
    return img, trimap


def runners(model, engines: List[str], folder: str) -> Dict[str, Callable]:
    """{label: run(img, trimap) -> alpha}: dygraph and each exported engine."""
    from paddlematting.inference import ExportOptions, Predictor, export_model
    from paddlematting.pipeline.runner import dygraph_runner
    export_model(model, folder, [{'type': 'Normalize'}],
                 ExportOptions(onnx='onnxruntime' in engines, choose_engine=False))
    found = {'dygraph': dygraph_runner(model)}
    for engine in engines:
        found[engine] = Predictor(folder, device='cpu', engine=engine)
    return found


def time_in_turns(found: Dict[str, Callable], img, trimap, repeats: int) -> Dict[str, List[float]]:
    times = {label: [] for label in found}
    for run in found.values():  # warm-up: oneDNN kernels, caches
        run(img, trimap)
    for _ in range(repeats):
        for label, run in found.items():
            start = time.perf_counter()
            np.asarray(run(img, trimap))
            times[label].append(time.perf_counter() - start)
    return times


def speed(args) -> None:
    print(f'load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores')
    print('| model | input | runner | median s | min s |\n|-|-|-|-|-|')
    for name in args.models:
        model = build(name)
        with tempfile.TemporaryDirectory() as work:
            found = runners(model, args.engines, os.path.join(work, 'export'))
            for size in args.sizes:
                img, trimap = inputs(size, size)
                for label, times in time_in_turns(found, img, trimap, args.repeats).items():
                    print(f'| ViTMatte-{name[0].upper()} | {size}x{size} | {label} | '
                          f'{statistics.median(times):.2f} | {min(times):.2f} |', flush=True)
    print(f'load average {os.getloadavg()[0]:.2f}')


LARGE_CHILD = r'''
import sys, time, resource
sys.path.insert(0, {repo!r}); sys.path.insert(0, {bench!r})
import bench_vitmatte as b
from paddlematting.pipeline.runner import dygraph_runner
run = dygraph_runner(b.build({name!r}, {opts!r}))
img, trimap = b.inputs({height}, {width})
start = time.perf_counter()
alpha = run(img, trimap)
print('%.1f %d %s' % (time.perf_counter() - start,
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, alpha.shape))
'''


def large(args) -> None:
    width, height = (int(v) for v in args.large.lower().split('x'))
    height, width = -(-height // 32) * 32, -(-width // 32) * 32  # as PadToMultiple pads
    for name in args.models:
        code = LARGE_CHILD.format(repo=REPO_ROOT, bench=os.path.dirname(os.path.abspath(__file__)),
                                  name=name, height=height, width=width, opts=args.opts)
        done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
        if done.returncode:
            print(f'ViTMatte-{name}: failed ({done.returncode}): {done.stderr[-500:]}')
            continue
        seconds, peak_kib, shape = done.stdout.strip().splitlines()[-1].split(' ', 2)
        print(f'ViTMatte-{name} {width}x{height}: {seconds} s, peak RSS '
              f'{int(peak_kib) / 1024 ** 2:.2f} GiB, alpha {shape}; load '
              f'{os.getloadavg()[0]:.2f}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=['small', 'base'], choices=sorted(CONFIGS))
    parser.add_argument('--sizes', nargs='+', type=int, default=[512, 1024])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--engines', nargs='+', default=['paddle_inference'],
                        choices=['paddle_inference', 'onnxruntime'])
    parser.add_argument('--threads', type=int, default=2,
                        help='OpenMP/MKL threads of dygraph (Paddle sets 1 when unset)')
    parser.add_argument('--large', default=None, help='WxH: peak memory of one dygraph run')
    parser.add_argument('--opts', nargs='*', default=[],
                        help='config overrides for --large, e.g. model.band_min_pixels=0')
    args = parser.parse_args()
    # before paddle loads (here and in --large's child, which inherits it)
    os.environ['OMP_NUM_THREADS'] = str(args.threads)
    print(f'{args.threads} threads; load average (1 min) {os.getloadavg()[0]:.2f}', flush=True)
    if args.large:
        large(args)
    else:
        speed(args)


if __name__ == '__main__':
    main()

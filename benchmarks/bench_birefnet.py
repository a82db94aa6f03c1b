"""BiRefNet in dygraph against its Paddle Inference export, timed in turns at one size.

Usage: python benchmarks/bench_birefnet.py [--model birefnet_swin_t] [--size 512] [--repeats 3]

The model is built from its config with random weights (they cost the same time as trained
ones), exported at the fixed input size (BiRefNet traces one H, W), and both run batch 1
on the same random input: one warm-up each, then ``--repeats`` turns of dygraph, exported.
Prints the medians, the largest difference between the two masks and the load average
(other work on the machine inflates every time). Peak memory: ``bench_models.py``.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_models import build_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='birefnet_swin_t',
                        choices=['birefnet_swin_t', 'birefnet_swin_l'])
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    import numpy as np
    import paddle
    from paddlematting.inference import ExportOptions, Predictor, export_model

    load_start = os.getloadavg()[0]
    model = build_model(args.model)
    x = np.random.default_rng(0).uniform(-2, 2, (1, 3, args.size, args.size)).astype('float32')
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        folder = export_model(model, os.path.join(tmp, 'export'), [{'type': 'LoadImages'}],
                              ExportOptions(input_shape=[1, 3, args.size, args.size]))
        export_s = time.perf_counter() - start
        predictor = Predictor(folder, device='cpu')

        def dygraph():
            with paddle.no_grad():
                return model({'img': paddle.to_tensor(x)}).numpy()
        runs = {'dygraph': dygraph, 'exported': lambda: predictor(x)}
        outputs = {name: run() for name, run in runs.items()}  # warm-up
        times = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    diff = float(np.abs(outputs['dygraph'] - outputs['exported']).max())
    print(f'{args.model} 1x3x{args.size}x{args.size}: export {export_s:.1f} s; ' + ', '.join(
        f'{name} median {statistics.median(t):.2f} s (min {min(t):.2f})' for name, t in times.items())
        + f'; max |mask diff| {diff:.1e}; load {load_start:.2f} / {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()

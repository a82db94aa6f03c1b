"""Throughput of the core loops with MODNet-MobileNetV2 at 512x512 on this machine.

Usage: python benchmarks/bench_training.py [--iters 6] [--batch_size 2] [--repeats 3]

Measures, with the real MattingDataset, transforms and metrics:
- training samples/s with data loading included (whole step) and excluded (step minus the
  wait for the batch), medians over the steps after the first (warm-up);
- val images/s (evaluate(): predict, restore, four metrics) on the 6 shipped photos
  resized to short side 512, median over --repeats passes;
- predict images/s (read, prepare, run, restore, write PNGs) with the dygraph and the
  Paddle Inference backends, median over --repeats passes;
- the process's peak resident memory after each phase (and peak GPU memory on GPU).
Prints a markdown table. Training images are the shipped photos blended on the shipped
backgrounds (tools/run_demo.py), so nothing is downloaded.
"""
import argparse
import os
import resource
import statistics
import sys
import tempfile
import time

import paddle

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from paddlematting import Config  # noqa: E402
from paddlematting.builders import Built  # noqa: E402
from paddlematting.engine.evaluator import evaluate  # noqa: E402
from paddlematting.predict.input_collection import collect_inputs  # noqa: E402
from paddlematting.predict.images import predict_images  # noqa: E402
from paddlematting.pipeline.runner import dygraph_runner  # noqa: E402
from paddlematting.engine.runtime import resolve_device, seed_everything  # noqa: E402
from paddlematting.engine.trainer import Trainer, TrainOptions  # noqa: E402
from paddlematting.datasets.tiny_sets import build_training_set
from paddlematting.engine.evaluator import EvalOptions  # noqa: E402
from paddlematting.predict import PredictOptions  # noqa: E402

CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')
REAL_DATA = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres')


def peak_memory_mib(device: str) -> str:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    text = f'{rss:.0f} MiB RSS'
    if device == 'gpu':
        text += f', {paddle.device.cuda.max_memory_allocated() / 2 ** 20:.0f} MiB GPU'
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=6, help='training steps (first is warm-up)')
    parser.add_argument('--batch_size', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3, help='passes for val and predict')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    args = parser.parse_args()
    device = resolve_device(args.device)
    seed_everything(0)
    work = tempfile.mkdtemp(prefix='bench_training_')
    build_training_set(os.path.join(work, 'train'), REAL_DATA, long_side=800)
    opts = [f'train_dataset.dataset_root={os.path.join(work, "train")}',
            f'val_dataset.dataset_root={REAL_DATA}', 'model.backbone.pretrained=null']
    cfg = Built(Config(CONFIG, opts=opts, batch_size=args.batch_size, iters=args.iters))
    rows = []
    load_before = os.getloadavg()

    options = TrainOptions(iters=args.iters, batch_size=args.batch_size,
                           save_dir=os.path.join(work, 'run'), save_interval=10 ** 9,
                           log_iters=10 ** 9, seed=0)
    outcome = Trainer(cfg.model, cfg.optimizer, cfg.train_dataset, options,
                      lr_scheduler=cfg.lr_scheduler).train()
    steps = outcome.step_seconds[1:]
    compute = [s - r for s, r in zip(outcome.step_seconds[1:], outcome.reader_seconds[1:])]
    rows.append(('train, data loading included', 'samples/s',
                 args.batch_size / statistics.median(steps), peak_memory_mib(device)))
    rows.append(('train, data loading excluded', 'samples/s',
                 args.batch_size / statistics.median(compute), peak_memory_mib(device)))

    runner = dygraph_runner(cfg.model)
    val_rates = []
    for _ in range(args.repeats):
        result = evaluate(runner, cfg.val_dataset, EvalOptions(show_progress=False))
        val_rates.append(len(cfg.val_dataset) / result.seconds)
    rows.append(('val (predict + 4 metrics), dygraph', 'images/s', statistics.median(val_rates),
                 peak_memory_mib(device)))

    inputs = collect_inputs(os.path.join(REAL_DATA, 'val', 'fg'))
    backends = {'dygraph': runner}
    try:
        from paddlematting import inference
        folder = inference.export_checkpoint_cached(cfg.config, None, os.path.join(work, 'export'))
        backends['inference'] = inference.Predictor(folder, device=device)
    except Exception as error:  # report dygraph only, say why
        print(f'inference backend unavailable: {error}')
    for name, backend in backends.items():
        rates = []
        for _ in range(args.repeats):
            start = time.time()
            predict_images(backend, cfg.val_transforms, inputs, os.path.join(work, 'pred'),
                           PredictOptions(show_progress=False))
            rates.append(len(inputs) / (time.time() - start))
        rows.append((f'predict (read, run, restore, write), {name}', 'images/s',
                     statistics.median(rates), peak_memory_mib(device)))

    print(f'\nMODNet-MobileNetV2, train crops 512x512 batch {args.batch_size} '
          f'({len(steps)} timed steps after 1 warm-up), val/predict short side 512 '
          f'(6 photos, {args.repeats} passes); device {device}, paddle {paddle.__version__}, '
          f'{os.cpu_count()} CPU cores, load average before {load_before}\n')
    print('| what | unit | median | peak memory so far |')
    print('|---|---|---|---|')
    for what, unit, value, memory in rows:
        print(f'| {what} | {unit} | {value:.3f} | {memory} |')


if __name__ == '__main__':
    main()

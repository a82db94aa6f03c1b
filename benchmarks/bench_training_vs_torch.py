"""One MODNet-MobileNetV2 training step, ours (Paddle dygraph) against PyTorch's, in turns.

Usage: python benchmarks/bench_training_vs_torch.py [--rounds 8] [--batch_size 2] [--side 512]
           [--threads 2] [--profile]

The same network on both sides: ``torch_modnet.MODNetMobileNetV2`` with our Paddle weights
copied in (``from_paddle``), both in train mode (BatchNorm on batch statistics). Each step is
forward, an L1 loss on the fused matte, backward and an Adam update (lr 1e-4), on the same
random batch and target. Only the matte is computed on our side too: our training-only
semantic and detail heads are switched off for the timing (the torch network has none), so
both do the same work; the trainer's full MODNet loss is in ``bench_training.py``.

Rows run in turns (one step of each per round, after one warm-up step each), so machine
noise hits both alike; medians over ``--rounds`` and their ratio are printed. ``--profile``
adds each side's top operators over three further steps (Paddle's profiler operator view;
torch.profiler's ``key_averages``), CPU time including backward kernels.

torch is a benchmark-only dependency (``pip install torch``); without it the script says so.
Threads: ``--threads`` for both (OMP_NUM_THREADS before Paddle loads; ``torch.set_num_threads``).
"""
import argparse
import os
import statistics
import sys
import time
from typing import Callable, Dict, Tuple

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')


def paddle_step(batch: np.ndarray, target: np.ndarray) -> Tuple[Callable[[], float], object]:
    """Our MODNet-MobileNetV2 (seed 0), train mode, matte only; returns (step, model)."""
    import paddle
    from paddlematting import Config
    from paddlematting.builders import Built
    paddle.seed(0)
    model = Built(Config(CONFIG, opts=['model.backbone.pretrained=null',
                                       'model.pretrained=null'])).model
    model.train()
    # the torch network has no training-only heads: skip ours (their sublayers stay in train)
    model.head.lr_branch.training = False
    model.head.hr_branch.training = False
    optimizer = paddle.optimizer.Adam(learning_rate=1e-4, parameters=model.parameters())
    img, gt = paddle.to_tensor(batch), paddle.to_tensor(target)

    def step() -> float:
        loss = paddle.abs(model({'img': img})['matte'] - gt).mean()
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        return float(loss)
    return step, model


def torch_step(paddle_model, batch: np.ndarray, target: np.ndarray, threads: int):
    """The same network in PyTorch with ``paddle_model``'s weights, train mode."""
    import torch
    import torch_modnet
    torch.set_num_threads(threads)
    model = torch_modnet.from_paddle(paddle_model).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    img, gt = torch.from_numpy(batch), torch.from_numpy(target)

    def step() -> float:
        loss = (model(img) - gt).abs().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()
    return step


def in_turns(steps: Dict[str, Callable[[], float]], rounds: int) -> Dict[str, float]:
    """Median seconds of each step over ``rounds``, one of each per round, after a warm-up."""
    times = {name: [] for name in steps}
    for fn in steps.values():
        fn()
    for _ in range(rounds):
        for name, fn in steps.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def profile_paddle(step: Callable[[], float]) -> None:
    import paddle.profiler as profiler
    prof = profiler.Profiler(targets=[profiler.ProfilerTarget.CPU])
    prof.start()
    for _ in range(3):
        step()
        prof.step()
    prof.stop()
    print('\n#### Paddle, operators over 3 steps\n')
    prof.summary(sorted_by=profiler.SortedKeys.CPUTotal, op_detail=False, thread_sep=False,
                 time_unit='ms', views=profiler.SummaryView.OperatorView)


def profile_torch(step: Callable[[], float], top: int) -> None:
    import torch
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step()
    print('\n#### PyTorch, operators over 3 steps\n')
    print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=8)
    parser.add_argument('--batch_size', type=int, default=2)
    parser.add_argument('--side', type=int, default=512)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--profile', action='store_true')
    args = parser.parse_args()
    os.environ['OMP_NUM_THREADS'] = str(args.threads)  # before Paddle loads
    try:
        import torch
    except ImportError as error:
        sys.exit(f'bench_training_vs_torch: needs torch ({error}); pip install torch')
    import paddle
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (args.batch_size, 3, args.side, args.side)).astype(np.float32)
    target = rng.uniform(0, 1, (args.batch_size, 1, args.side, args.side)).astype(np.float32)
    ours, model = paddle_step(batch, target)
    peer = torch_step(model, batch, target, args.threads)
    load = os.getloadavg()[0]
    medians = in_turns({'ours (Paddle dygraph)': ours, 'PyTorch eager': peer}, args.rounds)
    print(f'MODNet-MobileNetV2 training step, batch {args.batch_size} x {args.side}x{args.side}, '
          f'{args.threads} threads, medians of {args.rounds} in turns; paddle '
          f'{paddle.__version__}, torch {torch.__version__}; load {load:.2f} -> '
          f'{os.getloadavg()[0]:.2f}\n')
    print('| step | median s | vs PyTorch |')
    print('|---|---|---|')
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.3f} | {seconds / medians['PyTorch eager']:.2f} |")
    if args.profile:
        profile_paddle(ours)
        profile_torch(peer, 15)


if __name__ == '__main__':
    main()

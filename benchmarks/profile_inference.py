"""Op-by-op profile of Paddle Inference (oneDNN) and ONNX Runtime on our exported models.

Usage: python benchmarks/profile_inference.py [--models modnet_mobilenetv2 modnet_hrnet_w18 dim_vgg16]
           [--runs 7] [--threads 2] [--top 12] [--skip_torch]

Each model (random weights: time does not depend on the values) is exported with ONNX, then
run ``--runs`` times after a warm-up by
- Paddle Inference through ``PaddleInferenceEngine`` (the Predictor's own config), under
  ``paddle.profiler`` (host op events, read back from its Chrome trace), and
- ONNX Runtime through a session with ``OnnxRuntimeEngine``'s options plus
  ``enable_profiling`` (its JSON trace, ``*_kernel_time`` node events),
- for MODNet-MobileNetV2 with torch installed, also ONNX Runtime on the PyTorch MODNet's ONNX
  export (``torch_modnet.py``).
Each run executes the same op sequence, so every op position's time is the median over the
runs: a time slice lost to another process lands in one run and is dropped, which keeps the
profile usable on a busy machine. The medians are then summed by op type and by MODNet part:

- ``IBNorm``: from the slice that splits a conv's output up to the concat that joins the
  halves (the slices, the BatchNorm half, the InstanceNorm half, the concat), plus the ReLU
  right after it (which therefore cannot fuse into the conv);
- ``SE block``: global average pool up to the rescaling multiply;
- ``resize``: bilinear interpolations; ``concat``: the other concats (branch joins);
- ``layout``: explicit conversions (Paddle's ``onednn_to_paddle_layout``, ONNX Runtime's
  NCHWc ``ReorderInput``/``ReorderOutput``). Reorders oneDNN does inside a kernel are part of
  that kernel's time and cannot be separated here;
- ``conv``: every convolution (with whatever BatchNorm/activation/residual was fused into it).
Times are per inference (ms); percentages are of the summed op time.
"""
import argparse
import glob
import json
import os
import statistics
import sys
import tempfile
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_inference import (MODELS, REPO_ROOT, TORCH_MODEL, build_model,  # noqa: E402
                             export_to, model_inputs)

DEFAULT_MODELS = ['modnet_mobilenetv2', 'modnet_hrnet_w18', 'dim_vgg16']
# op type (lower case, engine prefix dropped) -> part of the network
CONV_OPS = {'conv2d', 'fused_conv2d', 'depthwise_conv2d', 'conv2d_transpose', 'conv', 'fusedconv',
            'nchwcconv', 'convtranspose'}
RESIZE_OPS = {'bilinear_interp', 'nearest_interp', 'resize', 'upsample'}
LAYOUT_OPS = {'onednn_to_paddle_layout', 'reorderinput', 'reorderoutput', 'transpose', 'transpose2'}
POOL_OPS = {'pool2d', 'globalaveragepool', 'reducemean'}
MUL_OPS = {'multiply', 'elementwise_mul', 'mul'}
SLICE_OPS = {'slice', 'split'}
CONCAT_OPS = {'concat'}
RELU_OPS = {'relu'}
# ops that may sit between an SE block's pool and its multiply
SE_INNER = CONV_OPS | {'relu', 'sigmoid', 'reorderoutput', 'reorderinput', 'fusedconv', 'squeeze',
                       'unsqueeze', 'reshape', 'flatten', 'gemm', 'matmul'}
PARTS = ('conv', 'IBNorm', 'SE block', 'resize', 'concat', 'layout', 'other')


def op_type(name: str) -> str:
    """'onednn_op.fused_conv2d[1.2 ms]' / 'pd_op.instance_norm' / 'Conv' -> 'fused_conv2d' ..."""
    return name.split('[')[0].split('.')[-1].lower()


def classify(ops: Sequence[str]) -> List[str]:
    """The network part of each op in one run's execution order (see the module docstring)."""
    kinds = [op_type(o) for o in ops]
    parts = ['other'] * len(kinds)
    i = 0
    while i < len(kinds):
        k = kinds[i]
        if k in POOL_OPS:
            j = i + 1
            while j < len(kinds) and j - i <= 8 and kinds[j] in SE_INNER:
                j += 1
            if j < len(kinds) and kinds[j] in MUL_OPS:
                parts[i:j + 1] = ['SE block'] * (j + 1 - i)
                i = j + 1
                continue
        if k in SLICE_OPS:
            j = i + 1
            while j < len(kinds) and j - i <= 8 and kinds[j] not in CONCAT_OPS | CONV_OPS:
                j += 1
            normed = any(kinds[m] in ('instance_norm', 'instancenormalization') for m in range(i, j))
            if j < len(kinds) and kinds[j] in CONCAT_OPS and normed:
                end = j + 1 if j + 1 < len(kinds) and kinds[j + 1] in RELU_OPS else j
                parts[i:end + 1] = ['IBNorm'] * (end + 1 - i)
                i = end + 1
                continue
        parts[i] = part_of(k)
        i += 1
    # explicit layout conversions count as layout wherever they sit
    return ['layout' if kinds[n] in LAYOUT_OPS else p for n, p in enumerate(parts)]


def part_of(kind: str) -> str:
    if kind in CONV_OPS:
        return 'conv'
    if kind in RESIZE_OPS:
        return 'resize'
    if kind in CONCAT_OPS:
        return 'concat'
    if kind in LAYOUT_OPS:
        return 'layout'
    return 'other'


def per_position_medians(runs: List[List[Tuple[str, float]]]) -> List[Tuple[str, float]]:
    """[(op name, ms)] per run, same sequence each run -> [(op, median ms)]."""
    length = min(len(r) for r in runs)
    names = [op_type(n) for n, _ in runs[0][:length]]
    for r in runs[1:]:
        if [op_type(n) for n, _ in r[:length]] != names:
            raise RuntimeError('the op sequence changed between runs; cannot take per-op medians')
    return [(runs[0][i][0], statistics.median(r[i][1] for r in runs)) for i in range(length)]


def summarize(ops: List[Tuple[str, float]]) -> dict:
    """Totals (ms) by op type (with call counts) and by part."""
    by_type: Dict[str, list] = defaultdict(lambda: [0, 0.0])
    by_part: Dict[str, float] = OrderedDict((p, 0.0) for p in PARTS)
    ibnorm_detail: Dict[str, float] = defaultdict(float)
    for (name, ms), part in zip(ops, classify([n for n, _ in ops])):
        kind = op_type(name)
        by_type[kind][0] += 1
        by_type[kind][1] += ms
        by_part[part] += ms
        if part == 'IBNorm':
            ibnorm_detail[kind] += ms
    return {'total': sum(ms for _, ms in ops), 'ops': len(ops), 'by_type': dict(by_type),
            'by_part': by_part, 'ibnorm_detail': dict(ibnorm_detail)}


def profile_paddle(folder: str, feeds: Dict[str, np.ndarray], runs: int, threads: int) -> dict:
    import paddle.profiler as profiler
    from paddlematting.inference.deploy_config import load_deploy_config
    from paddlematting.inference.engines import PaddleInferenceEngine

    engine = PaddleInferenceEngine(load_deploy_config(folder), 'cpu', threads)
    engine.run(feeds)  # warm-up: kernel creation
    trace_dir = tempfile.mkdtemp(prefix='paddle_trace_')
    prof = profiler.Profiler(targets=[profiler.ProfilerTarget.CPU],
                             on_trace_ready=profiler.export_chrome_tracing(trace_dir))
    prof.start()
    for _ in range(runs):
        engine.run(feeds)
        prof.step()
    prof.stop()
    events = []
    for path in glob.glob(os.path.join(trace_dir, '*.json')):
        with open(path) as f:
            data = json.load(f)
        events += data['traceEvents'] if isinstance(data, dict) else data
    steps = sorted((e for e in events if e.get('cat') == 'ProfileStep'), key=lambda e: e['ts'])
    ops = sorted((e for e in events if e.get('cat') == 'Operator'
                  and not e['name'].startswith('builtin_')), key=lambda e: e['ts'])
    per_run = []
    for step in steps:
        inside = [(e['name'], e['dur'] / 1e3) for e in ops
                  if step['ts'] <= e['ts'] < step['ts'] + step['dur']]
        if inside:
            per_run.append(inside)
    return summarize(per_position_medians(per_run))


def profile_onnxruntime(path: str, feeds: Dict[str, np.ndarray], runs: int, threads: int) -> dict:
    import onnxruntime as ort
    from paddlematting.inference.engines import onnxruntime_session_options

    options = onnxruntime_session_options(threads)
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix='ort_trace_'), 'ort')
    session = ort.InferenceSession(path, sess_options=options, providers=['CPUExecutionProvider'])
    names = {i.name for i in session.get_inputs()}
    feeds = {k: v for k, v in feeds.items() if k in names}
    for _ in range(runs + 1):
        session.run(None, feeds)
    with open(session.end_profiling()) as f:
        events = json.load(f)
    ops = sorted((e for e in events if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time')),
                 key=lambda e: e['ts'])
    calls = [e for e in events if e.get('cat') == 'Session' and e['name'] == 'model_run']
    calls.sort(key=lambda e: e['ts'])
    per_run = []
    for call in calls[1:]:  # the first is the warm-up
        inside = [(e['args']['op_name'], e['dur'] / 1e3) for e in ops
                  if call['ts'] <= e['ts'] < call['ts'] + call['dur']]
        if inside:
            per_run.append(inside)
    return summarize(per_position_medians(per_run))


def print_profile(title: str, result: dict, top: int) -> None:
    total = result['total']
    print(f"\n#### {title}: {total:.1f} ms of op time per inference, {result['ops']} ops\n")
    print('| part | ms | % |')
    print('|---|---|---|')
    for part, ms in result['by_part'].items():
        if ms > 0:
            print(f'| {part} | {ms:.1f} | {100 * ms / total:.1f} |')
    if result['ibnorm_detail']:
        detail = ', '.join(f'{k} {v:.1f}' for k, v in sorted(result['ibnorm_detail'].items(),
                                                            key=lambda kv: -kv[1]))
        print(f'\nIBNorm by op (ms): {detail}')
    print(f'\n| op type | calls | ms | % |')
    print('|---|---|---|---|')
    ranked = sorted(result['by_type'].items(), key=lambda kv: -kv[1][1])
    for kind, (calls, ms) in ranked[:top]:
        print(f'| {kind} | {calls} | {ms:.1f} | {100 * ms / total:.1f} |')
    sys.stdout.flush()


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=DEFAULT_MODELS, choices=list(MODELS))
    parser.add_argument('--runs', type=int, default=7, help='profiled runs (per-op medians)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--top', type=int, default=12, help='op types listed')
    parser.add_argument('--skip_torch', action='store_true')
    args = parser.parse_args(argv)
    os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    import paddle
    print(f'paddle {paddle.__version__}, {os.cpu_count()} cores, {args.threads} threads, '
          f'{args.runs} runs per engine; load (1 min) {os.getloadavg()[0]:.2f}')
    with tempfile.TemporaryDirectory(prefix='profile_inference_') as work_dir:
        for name in args.models:
            cfg = build_model(name)
            side = MODELS[name][1]
            img, trimap = model_inputs(cfg, side)
            feeds = {'img': img} if trimap is None else {'img': img, 'trimap': trimap}
            folder = os.path.join(work_dir, name)
            export_to(cfg, folder, choose=False)
            print(f'\n### {name} {side}x{side} (load {os.getloadavg()[0]:.2f})')
            print_profile('Paddle Inference (oneDNN)', profile_paddle(folder, feeds, args.runs, args.threads),
                          args.top)
            print_profile('ONNX Runtime, our export',
                          profile_onnxruntime(os.path.join(folder, 'model.onnx'), feeds, args.runs,
                                              args.threads), args.top)
            if name == TORCH_MODEL and not args.skip_torch:
                try:
                    import torch_modnet
                except ImportError as error:
                    print(f'\nONNX Runtime on the torch export skipped: {error}')
                    continue
                path = torch_modnet.export_onnx(torch_modnet.from_paddle(cfg.model),
                                                os.path.join(work_dir, 'torch_modnet.onnx'))
                print_profile('ONNX Runtime, torch export',
                              profile_onnxruntime(path, feeds, args.runs, args.threads), args.top)
    print(f'\nload (1 min) after: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()

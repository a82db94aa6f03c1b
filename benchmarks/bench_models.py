"""Time each matting model's eval-mode forward pass and measure its peak memory.

Usage: python benchmarks/bench_models.py [--models modnet_mobilenetv2 dim_vgg16]
                                         [--repeats 5] [--size 512] [--threads N]

Each model is built from its config in configs/ with pretrained weights off, in a
fresh subprocess, so the peak RSS (the process's resident-set high-water mark,
which includes Python and Paddle themselves) belongs to that model alone. The
forward pass runs once as a warm-up, then ``--repeats`` timed times on a random
input of batch 1; the median and the minimum are reported. The load average is
printed before and after, because other work on the machine inflates the times.
"""
import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from typing import Dict, List, NamedTuple, Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ModelSpec(NamedTuple):
    config: str         # relative to the repository root
    size: int           # default square input side
    needs_trimap: bool
    model: str          # "module:Name" of the model class, for builds without Config
    backbone: str       # "module:Name" of the backbone, likewise


_MODELS = 'paddlematting.models'
MODEL_SPECS: Dict[str, ModelSpec] = {
    'modnet_mobilenetv2': ModelSpec('configs/modnet/modnet_mobilenetv2.yml', 512, False,
                                    f'{_MODELS}.modnet:MODNet',
                                    f'{_MODELS}.backbones.mobilenet_v2:MobileNetV2'),
    'modnet_resnet50_vd': ModelSpec('configs/modnet/modnet_resnet50_vd.yml', 512, False,
                                    f'{_MODELS}.modnet:MODNet',
                                    f'{_MODELS}.backbones.resnet_vd:ResNet50_vd'),
    'modnet_hrnet_w18': ModelSpec('configs/modnet/modnet_hrnet_w18.yml', 512, False,
                                  f'{_MODELS}.modnet:MODNet', f'{_MODELS}.backbones.hrnet:HRNet_W18'),
    'dim_vgg16': ModelSpec('configs/dim/dim_vgg16.yml', 320, True,
                           f'{_MODELS}.dim:DIM', f'{_MODELS}.backbones.vgg:VGG16'),
    'human_matting_resnet34_vd': ModelSpec(
        'configs/human_matting/human_matting-resnet34_vd.yml', 2048, False,
        f'{_MODELS}.human_matting:HumanMatting', f'{_MODELS}.backbones.resnet_vd:ResNet34_vd'),
    'gca_resnet34': ModelSpec('configs/gca/gca-resnet34.yml', 512, True, f'{_MODELS}.gca:GCA',
                              f'{_MODELS}.backbones.gca_encoder:ResGuidedCxtAtten'),
    'ppmattingv2_stdc1': ModelSpec('configs/ppmattingv2/ppmattingv2-stdc1-human_512.yml', 512, False,
                                   f'{_MODELS}.ppmattingv2:PPMattingV2',
                                   f'{_MODELS}.backbones.stdc:STDC1'),
    'birefnet_swin_t': ModelSpec('configs/birefnet/birefnet-swin_t.yml', 1024, False,
                                 f'{_MODELS}.birefnet:BiRefNet', f'{_MODELS}.backbones.swin:SwinV1_T'),
    'birefnet_swin_l': ModelSpec('configs/birefnet/birefnet-swin_l.yml', 1024, False,
                                 f'{_MODELS}.birefnet:BiRefNet', f'{_MODELS}.backbones.swin:SwinV1_L'),
    'vitmatte_small': ModelSpec('configs/vitmatte/vitmatte-small-composition1k.yml', 512, True,
                                f'{_MODELS}.vitmatte:ViTMatte', f'{_MODELS}.backbones.vit:ViTDet'),
    'vitmatte_base': ModelSpec('configs/vitmatte/vitmatte-base-composition1k.yml', 512, True,
                               f'{_MODELS}.vitmatte:ViTMatte', f'{_MODELS}.backbones.vit:ViTDet'),
}


def _import_object(ref: str):
    module, name = ref.split(':')
    return getattr(importlib.import_module(module), name)


def build_model(name: str):
    """The eval-mode model ``name`` with random weights (no download).

    Built from its YAML through ``Config`` when the model type is registered; while
    the package is being assembled and a type is not registered yet, the classes
    are imported directly and built with the config's defaults.
    """
    spec = MODEL_SPECS[name]
    model_cls = _import_object(spec.model)
    backbone_cls = _import_object(spec.backbone)
    from paddlematting.config import manager
    if model_cls.__name__ in manager.MODELS.components_dict:
        from paddlematting.builders import build_model
        from paddlematting.config import Config
        model = build_model(Config(os.path.join(REPO_ROOT, spec.config),
                                   opts=['model.backbone.pretrained=null', 'model.pretrained=null']))
        model.built_from = spec.config
    else:
        backbone_kwargs = {'input_channels': 4} if spec.needs_trimap else {}
        model = model_cls(backbone=backbone_cls(**backbone_kwargs))
        model.built_from = 'classes (type not registered yet)'
    model.eval()
    return model


def measure(name: str, size: int, repeats: int) -> Dict[str, object]:
    """Run in the worker process: build, warm up, time; returns the figures as a dict."""
    import numpy as np
    import paddle

    spec = MODEL_SPECS[name]
    load_start = os.getloadavg()[0]
    model = build_model(name)
    rng = np.random.default_rng(0)
    inputs = {'img': paddle.to_tensor(rng.uniform(-1, 1, (1, 3, size, size)).astype('float32'))}
    if spec.needs_trimap:
        trimap = rng.choice(np.array([0, 128, 255], 'float32'), size=(1, 1, size, size))
        inputs['trimap'] = paddle.to_tensor(trimap)
    times: List[float] = []
    with paddle.no_grad():
        for i in range(repeats + 1):
            start = time.perf_counter()
            out = model(inputs)
            # the result must be materialised, or lazy backends would time nothing
            out = out[0] if isinstance(out, (list, tuple)) else out
            if isinstance(out, dict):  # alpha_pred (PP-Matting...), alpha (ViTMatte)
                out = out['alpha_pred'] if 'alpha_pred' in out else out['alpha']
            out.numpy()
            if i:  # the first run is the warm-up
                times.append(time.perf_counter() - start)
    # ru_maxrss is in KiB on Linux
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {'model': name, 'input': f'1x{3 + spec.needs_trimap}x{size}x{size}',
            'median_s': float(np.median(times)), 'min_s': float(np.min(times)),
            'peak_rss_mib': peak_mib, 'out_shape': list(out.shape),
            'load': (load_start, os.getloadavg()[0]), 'built_from': model.built_from}


def run_worker(name: str, size: int, repeats: int, threads: Optional[int]) -> Dict[str, object]:
    """Measure ``name`` in a fresh interpreter; returns its figures or an 'error' entry."""
    cmd = [sys.executable, os.path.abspath(__file__), '--worker', name,
           '--size', str(size), '--repeats', str(repeats)]
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    result_lines = [line for line in proc.stdout.splitlines() if line.startswith('RESULT ')]
    if proc.returncode != 0 or not result_lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ['no output']
        return {'model': name, 'error': f'exit {proc.returncode}: {tail[0]}'}
    return json.loads(result_lines[-1][len('RESULT '):])


def markdown_table(rows: List[Dict[str, object]]) -> str:
    lines = ['| model | input | median s | min s | peak RSS MiB | load (1 min, start/end) |',
             '|-|-|-|-|-|-|']
    for r in rows:
        if 'error' in r:
            lines.append(f'| {r["model"]} | - | - | - | - | failed: {r["error"]} |')
            continue
        load = '{:.2f} / {:.2f}'.format(*r['load'])
        lines.append(f'| {r["model"]} | {r["input"]} | {r["median_s"]:.3f} | {r["min_s"]:.3f} '
                     f'| {r["peak_rss_mib"]:.0f} | {load} |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=list(MODEL_SPECS), choices=list(MODEL_SPECS))
    parser.add_argument('--repeats', type=int, default=5, help='timed runs after one warm-up')
    parser.add_argument('--size', type=int, default=None,
                        help='square input side (default: 512 for MODNet and GCA, 320 for DIM)')
    parser.add_argument('--threads', type=int, default=None,
                        help='OMP_NUM_THREADS for the workers (default: Paddle decides)')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error('--repeats must be at least 1')

    if args.worker:
        size = args.size or MODEL_SPECS[args.worker].size
        print('RESULT ' + json.dumps(measure(args.worker, size, args.repeats)), flush=True)
        return

    cores = os.cpu_count() or 1
    before = os.getloadavg()
    print(f'{cores} CPU cores, load average before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}')
    if before[0] >= cores * 0.5:
        print(f'warning: the machine is busy (1-min load {before[0]:.2f} on {cores} cores); '
              'times will be inflated', file=sys.stderr)
    rows = []
    for name in args.models:
        rows.append(run_worker(name, args.size or MODEL_SPECS[name].size, args.repeats, args.threads))
        print(f'  {name}: ' + ('failed, ' + rows[-1]['error'] if 'error' in rows[-1]
                               else f'median {rows[-1]["median_s"]:.3f} s, output '
                               f'{rows[-1]["out_shape"]}, built from {rows[-1]["built_from"]}'),
              flush=True)
    after = os.getloadavg()
    print(f'load average after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}\n')
    print(markdown_table(rows))


if __name__ == '__main__':
    main()

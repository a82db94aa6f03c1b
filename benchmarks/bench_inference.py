"""Paddle Inference (exported model, oneDNN on CPU) against dygraph, plus the end-to-end pipeline.

Usage: python benchmarks/bench_inference.py [--models modnet_mobilenetv2 ...] [--repeats 5]
                                            [--threads N] [--images 20] [--skip_pipeline]
                                            [--skip_memory]

1. Bare model: each model (pretrained weights off: speed does not depend on the values) is
   exported to a temporary folder and run by ``paddlematting.inference.Predictor``; the same
   model runs in dygraph under ``paddle.no_grad``. One warm-up, then ``--repeats`` timed runs
   of batch 1; medians reported.
2. Pipeline: ``--images`` synthetic ~800x600 JPEGs (crops of the shipped real images) go through
   read -> val transforms -> model -> restore -> alpha PNG write with MODNet-MobileNetV2 and its
   val config (short side 512, multiple of 32); images/s and the ratio of the whole time to
   the model calls' time inside the same run (so a change of machine load hits both alike).
3. Memory: one 4000x3000 image through the same pipeline in a fresh subprocess whose predictor
   was warmed up at the same prepared size: RSS before, the peak RSS during that one call
   (VmHWM, reset just before it) and the numpy-side peak (tracemalloc), which would expose
   full-resolution float64 copies (4000x3000x3 float64 = 288 MB; the float32 alpha is 48 MB).
The 1-minute load average is printed before and after: other work on the machine inflates times.
"""
import argparse
import glob
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

# name -> (config relative to the repo, square input side)
MODELS: Dict[str, tuple] = {
    'modnet_mobilenetv2': ('configs/modnet/modnet_mobilenetv2.yml', 512),
    'modnet_hrnet_w18': ('configs/modnet/modnet_hrnet_w18.yml', 512),
    'modnet_resnet50_vd': ('configs/modnet/modnet_resnet50_vd.yml', 512),
    'dim_vgg16': ('configs/dim/dim_vgg16.yml', 320),
    'ppmatting_hrnet_w18': ('configs/ppmatting/ppmatting-hrnet_w18-human_512.yml', 512),
    'ppmatting_hrnet_w48': ('configs/ppmatting/ppmatting-hrnet_w48-composition.yml', 512),
}
PIPELINE_MODEL = 'modnet_mobilenetv2'
NO_PRETRAINED = ['model.backbone.pretrained=null', 'model.pretrained=null']


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: oneDNN kernel creation, dygraph first-call overhead
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_model(name: str):
    import paddle
    from paddlematting import Config
    paddle.seed(0)
    cfg = Config(os.path.join(REPO_ROOT, MODELS[name][0]), opts=NO_PRETRAINED)
    cfg.model.eval()
    return cfg


def export_to(cfg, folder: str) -> str:
    from paddlematting.inference import export_model
    transforms = cfg.val_dataset_config.get('transforms') or [{'type': 'Normalize'}]
    return export_model(cfg.model, folder, transforms, model_type=cfg.model_config['type'])


def bench_model(name: str, work_dir: str, repeats: int, threads: int) -> dict:
    import paddle
    from paddlematting.inference import Predictor
    from paddlematting.models.alpha_model import input_names_for

    cfg = build_model(name)
    side = MODELS[name][1]
    rng = np.random.default_rng(0)
    img = rng.uniform(-1, 1, size=(1, 3, side, side)).astype(np.float32)
    trimap = None
    if 'trimap' in input_names_for(cfg.model_config['type']):
        trimap = rng.choice(np.float32([0, 128, 255]), size=(1, 1, side, side))
    row = {'model': name, 'size': f'{side}x{side}'}
    try:
        predictor = Predictor(export_to(cfg, os.path.join(work_dir, name)), device='cpu', threads=threads)
    except Exception as error:  # report and go on with the other models
        row['error'] = f'export failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}'
        return row
    inputs = {'img': paddle.to_tensor(img)}
    if trimap is not None:
        inputs['trimap'] = paddle.to_tensor(trimap)

    def dygraph():
        with paddle.no_grad():
            return cfg.model(inputs).numpy()

    exported = predictor(img, trimap)
    row['max_abs_diff'] = float(np.abs(exported - dygraph()).max())
    row['inference_s'] = median_seconds(lambda: predictor(img, trimap), repeats)
    row['dygraph_s'] = median_seconds(dygraph, max(3, repeats // 2))
    row['speedup'] = row['dygraph_s'] / row['inference_s']
    return row


def make_pipeline_images(folder: str, count: int) -> List[str]:
    """``count`` ~800x600 JPEGs cut from the shipped real images (sizes vary a little)."""
    from paddlematting.utils.image_io import read_image
    import cv2
    sources = sorted(glob.glob(os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val', 'fg', '*.png')))
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        image = read_image(sources[i % len(sources)])
        h, w = 600 - 8 * (i % 3), 800
        image = cv2.resize(image, (w, max(h, image.shape[0])))[:h]
        path = os.path.join(folder, f'img{i:02d}.jpg')
        cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def bench_pipeline(work_dir: str, count: int, threads: int) -> dict:
    from paddlematting.inference import Predictor
    from paddlematting.transforms.pipeline import predict_alpha
    from paddlematting.utils.image_io import read_image, write_png

    cfg = build_model(PIPELINE_MODEL)
    predictor = Predictor(export_to(cfg, os.path.join(work_dir, 'pipeline_model')), device='cpu',
                          threads=threads)
    paths = make_pipeline_images(os.path.join(work_dir, 'images'), count)
    out_dir = os.path.join(work_dir, 'alphas')
    model_seconds = []
    shapes = set()

    def timed_model(img, trimap):
        # the bare model's share, timed inside the same run so load changes affect both alike
        start = time.perf_counter()
        out = predictor(img, trimap)
        model_seconds.append(time.perf_counter() - start)
        shapes.add('x'.join(map(str, img.shape[2:])))
        return out

    def one(path):
        alpha = predict_alpha(timed_model, read_image(path), None, predictor.transforms)
        write_png(os.path.join(out_dir, os.path.basename(path)[:-4] + '.png'),
                  np.rint(alpha * 255).astype(np.uint8))

    one(paths[0])  # warm-up
    model_seconds.clear()
    start = time.perf_counter()
    for path in paths:
        one(path)
    per_image = (time.perf_counter() - start) / len(paths)
    bare = sum(model_seconds) / len(model_seconds)
    return {'images': len(paths), 'prepared': ', '.join(sorted(shapes)),
            'per_image_s': per_image, 'images_per_s': 1.0 / per_image, 'bare_model_s': bare,
            'ratio': per_image / bare}


MEMORY_CHILD = r'''
import os, sys, tracemalloc, json
import numpy as np
sys.path.insert(0, {repo!r})
from paddlematting.inference import Predictor

def status_mb(field):
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'):
            return int(line.split()[1]) / 1024

predictor = Predictor({folder!r}, device='cpu', threads={threads})
rng = np.random.default_rng(0)
# warm-up at the same prepared size (600x800 and 3000x4000 both become 512x672)
predictor.predict(rng.integers(0, 256, size=(600, 800, 3), dtype=np.uint8))
image = rng.integers(0, 256, size=(3000, 4000, 3), dtype=np.uint8)
before = status_mb('VmRSS')
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # reset the peak-RSS mark (VmHWM) so it covers this one call only
tracemalloc.start()
alpha = predictor.predict(image)
numpy_peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({{'shape': list(alpha.shape), 'rss_before_mb': before, 'rss_peak_mb': status_mb('VmHWM'),
                  'numpy_peak_mb': numpy_peak / 2**20}}))
'''


def bench_memory(work_dir: str, threads: int) -> dict:
    import json
    cfg = build_model(PIPELINE_MODEL)
    folder = export_to(cfg, os.path.join(work_dir, 'memory_model'))
    code = MEMORY_CHILD.format(repo=REPO_ROOT, folder=folder, threads=threads)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_average() -> str:
    return '%.2f' % os.getloadavg()[0]


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    parser.add_argument('--images', type=int, default=20)
    parser.add_argument('--skip_pipeline', action='store_true')
    parser.add_argument('--skip_memory', action='store_true')
    args = parser.parse_args(argv)
    import paddle

    command = 'python benchmarks/bench_inference.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    print(f'`{command.strip()}`\n')
    print(f'paddle {paddle.__version__}, {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} cores, {args.threads} threads; load average (1 min) before: {load_average()}\n')
    with tempfile.TemporaryDirectory(prefix='bench_inference_') as work_dir:
        print('| model | input | Paddle Inference (s) | dygraph (s) | speedup | max abs diff |')
        print('|---|---|---|---|---|---|')
        for name in args.models:
            row = bench_model(name, work_dir, args.repeats, args.threads)
            if 'error' in row:
                print(f"| {name} | {row['size']} | {row['error']} | | | |", flush=True)
                continue
            print(f"| {name} | {row['size']} | {row['inference_s']:.3f} | {row['dygraph_s']:.3f} | "
                  f"{row['speedup']:.1f}x | {row['max_abs_diff']:.1e} |", flush=True)
        if not args.skip_pipeline:
            p = bench_pipeline(work_dir, args.images, args.threads)
            print(f"\nPipeline ({PIPELINE_MODEL}, val config, {p['images']} JPEGs ~800x600 -> prepared "
                  f"{p['prepared']}; read, transforms, model, restore, PNG write):\n")
            print('| images/s | s/image | model calls s/image | pipeline / model |')
            print('|---|---|---|---|')
            print(f"| {p['images_per_s']:.2f} | {p['per_image_s']:.3f} | {p['bare_model_s']:.3f} | "
                  f"{p['ratio']:.2f}x |", flush=True)
        if not args.skip_memory:
            m = bench_memory(work_dir, args.threads)
            print(f"\nMemory, one 4000x3000 image ({PIPELINE_MODEL} val config, alpha {m['shape']}):\n")
            print('| RSS before (MB) | peak RSS during the call (MB) | growth (MB) | numpy peak (MB) |')
            print('|---|---|---|---|')
            print(f"| {m['rss_before_mb']:.0f} | {m['rss_peak_mb']:.0f} | "
                  f"{m['rss_peak_mb'] - m['rss_before_mb']:.0f} | {m['numpy_peak_mb']:.0f} |")
    print(f'\nload average (1 min) after: {load_average()}')


if __name__ == '__main__':
    main()

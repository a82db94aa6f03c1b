"""Our inference engines against each other, ONNX Runtime and PyTorch; INT8; the whole pipeline.

Usage: python benchmarks/bench_inference.py [--models modnet_mobilenetv2 ...] [--repeats 14]
           [--threads 2] [--images 10] [--skip_torch] [--skip_int8] [--skip_pipeline]
           [--skip_memory]

1. Engines: each model (pretrained weights off: speed does not depend on the values) is
   exported with ``export_model(..., onnx=True, choose_engine=True)`` - so deploy.yaml records
   the CPU engine that export found faster - and then run, batch 1, by
   our default ``Predictor`` (the recorded engine), ``Predictor(engine='paddle_inference')``,
   ``Predictor(engine='onnxruntime')`` and dygraph. For MODNet-MobileNetV2, when torch is
   installed, also ONNX Runtime on the PyTorch MODNet's ONNX export (``torch_modnet.py``:
   the same network with our weights, exported like ZHKKKe/MODNet's ``export_onnx.py``)
   and PyTorch eager; that ONNX Runtime session has ONNX Runtime's default options (only the
   thread count set), as a user of the official export would run it. All rows run in turns (one call of each per round, the starting row
   rotating), so machine noise hits them alike; the median over ``--repeats`` rounds is
   reported, with the ratio to the reference row (ONNX Runtime on the torch export, else on
   our export) and the max |output - dygraph output|.
2. INT8 (MODNet-MobileNetV2): the export quantized by ``quantize_int8`` calibrated on the six
   shipped real images; fp32 and INT8 ONNX Runtime in turns, and mean/max
   |alpha_int8 - alpha_fp32| of the full pipeline on those images. The weights are random,
   so the error says how INT8 treats this network's activations, not a trained model's.
3. Pipeline: ``--images`` synthetic 1280x720 and 1920x1080 JPEGs (the shipped real images,
   resized) go through read -> val transforms -> default Predictor -> restore -> PNG write
   with MODNet-MobileNetV2's val config (short side 512, multiple of 32), as predict.py does;
   images/s, and the ratio of the whole time to the model calls' time in the same run.
4. Memory: one 4000x3000 image through the same pipeline in a fresh subprocess whose predictor
   was warmed up at the same prepared size: RSS before, the peak RSS during that one call
   (VmHWM, reset just before it) and the numpy-side peak (tracemalloc), which would expose
   full-resolution float64 copies (4000x3000x3 float64 = 288 MB; the float32 alpha is 48 MB).
The 1-minute load average is printed before and after each part: other work on the machine
inflates times, ratios taken in turns much less.
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
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# name -> (config relative to the repo, square input side)
MODELS: Dict[str, tuple] = {
    'modnet_mobilenetv2': ('configs/modnet/modnet_mobilenetv2.yml', 512),
    'modnet_hrnet_w18': ('configs/modnet/modnet_hrnet_w18.yml', 512),
    'modnet_resnet50_vd': ('configs/modnet/modnet_resnet50_vd.yml', 512),
    'dim_vgg16': ('configs/dim/dim_vgg16.yml', 320),
    # PaddleSeg quotes PP-HumanMatting's speed at 2048x2048, its operating size
    'human_matting_resnet34_vd': ('configs/human_matting/human_matting-resnet34_vd.yml', 2048),
    'ppmattingv2_stdc1': ('configs/ppmattingv2/ppmattingv2-stdc1-human_512.yml', 512),
    'gca_resnet34': ('configs/gca/gca-resnet34.yml', 512),
    'ppmatting_hrnet_w18': ('configs/ppmatting/ppmatting-hrnet_w18-human_512.yml', 512),
    'ppmatting_hrnet_w48': ('configs/ppmatting/ppmatting-hrnet_w48-composition.yml', 512),
}
PIPELINE_MODEL = 'modnet_mobilenetv2'
TORCH_MODEL = 'modnet_mobilenetv2'
NO_PRETRAINED = ['model.backbone.pretrained=null', 'model.pretrained=null']
SHIPPED_IMAGES = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val', 'fg', '*.png')
PIPELINE_SIZES = {'720p': (720, 1280), '1080p': (1080, 1920)}
REF_TORCH_ORT = 'ONNX Runtime, torch export'
REF_OUR_ORT = 'ONNX Runtime, our export'


def medians_in_turns(fns: Dict[str, Callable[[], object]], repeats: int) -> Dict[str, float]:
    """Median seconds of each callable, timed in turns: one warm-up call each, then
    ``repeats`` rounds calling every one once (the first callable of a round rotates)."""
    names = list(fns)
    for name in names:
        fns[name]()  # warm-up: oneDNN kernel creation, ORT arena, first dygraph call
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def build_model(name: str):
    import paddle
    from paddlematting import Config
    from paddlematting.builders import Built
    paddle.seed(0)
    built = Built(Config(os.path.join(REPO_ROOT, MODELS[name][0]), opts=NO_PRETRAINED))
    built.model.eval()
    return built


def export_to(cfg, folder: str, onnx: bool = True, choose: bool = True) -> str:
    """Export as a user would: with ONNX, timing both engines to record ``cpu_engine``
    (``choose``)."""
    from paddlematting.inference import ExportOptions, export_model
    from paddlematting.inference.export import config_inference_transforms
    return export_model(cfg.model, folder, config_inference_transforms(cfg.config), ExportOptions(model_type=cfg.config.model_config['type'], onnx=onnx, choose_engine=onnx and choose, onnx_optional=True))


def model_inputs(cfg, side: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    from paddlematting.builders import model_class
    from paddlematting.models import model_traits
    rng = np.random.default_rng(0)
    img = rng.uniform(-1, 1, size=(1, 3, side, side)).astype(np.float32)
    trimap = None
    if 'trimap' in model_traits(model_class(cfg.config)).input_names:
        trimap = rng.choice(np.float32([0, 128, 255]), size=(1, 1, side, side))
    return img, trimap


def torch_peer(cfg, img: np.ndarray, work_dir: str, threads: int):
    """(runners, note): PyTorch eager and ONNX Runtime on the torch ONNX export, or a reason."""
    try:
        import torch
        import torch_modnet
    except ImportError as error:
        return {}, f'torch rows skipped: {error} (pip install torch, CPU build)'
    import onnxruntime as ort
    torch.set_num_threads(threads)
    model = torch_modnet.from_paddle(cfg.model)
    path = torch_modnet.export_onnx(model, os.path.join(work_dir, 'torch_modnet.onnx'))
    # the peer runs as a user of the official export would: ONNX Runtime's defaults, our threads
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(path, sess_options=options, providers=['CPUExecutionProvider'])
    tensor = torch.from_numpy(img)

    def eager():
        with torch.inference_mode():
            return model(tensor).numpy()
    return {REF_TORCH_ORT: lambda: session.run(None, {'img': img})[0], 'PyTorch eager': eager}, \
        f'torch {torch.__version__}, ONNX export opset 11 (TorchScript exporter), ONNX Runtime default options'


def bench_engines(name: str, work_dir: str, repeats: int, threads: int, use_torch: bool) -> dict:
    """Time every runner of ``name`` in turns; returns the table rows and notes."""
    import paddle
    from paddlematting.inference import Predictor

    cfg = build_model(name)
    side = MODELS[name][1]
    img, trimap = model_inputs(cfg, side)
    result = {'model': name, 'size': f'{side}x{side}', 'notes': [], 'rows': []}
    try:
        folder = export_to(cfg, os.path.join(work_dir, name))
    except Exception as error:  # report and go on with the other models
        result['error'] = f'export failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}'
        return result
    result['folder'] = folder
    default = Predictor(folder, device='cpu', threads=threads)
    result['notes'].append(f'deploy.yaml cpu_engine: {default.engine_name} (export-time medians ms: '
                           + ', '.join(f'{k} {v:.0f}' for k, v in default.deploy.engine_ms.items()) + ')')
    runners = {f'our default Predictor ({default.engine_name})': lambda: default(img, trimap)}
    engines = [('paddle_inference', 'Paddle Inference')]
    if default.deploy.onnx_file:
        engines.append(('onnxruntime', REF_OUR_ORT))
    else:  # paddle2onnx could not convert this network: Paddle Inference is the reference
        result['notes'].append('no ONNX model (paddle2onnx could not convert it)')
    for engine, label in engines:
        predictor = Predictor(folder, device='cpu', threads=threads, engine=engine)
        runners[label] = lambda p=predictor: p(img, trimap)
    reference = REF_OUR_ORT if default.deploy.onnx_file else 'Paddle Inference'
    if use_torch and name == TORCH_MODEL:
        extra, note = torch_peer(cfg, img, work_dir, threads)
        result['notes'].append(note)
        runners.update(extra)
        if extra:
            reference = REF_TORCH_ORT
    inputs = {'img': paddle.to_tensor(img)}
    if trimap is not None:
        inputs['trimap'] = paddle.to_tensor(trimap)

    def dygraph():
        with paddle.no_grad():
            return cfg.model(inputs).numpy()
    runners['our dygraph'] = dygraph

    expected = dygraph()
    diffs = {label: float(np.abs(np.asarray(fn()) - expected).max()) for label, fn in runners.items()}
    if REF_TORCH_ORT in runners:
        result['notes'].append(f'torch eager vs paddle dygraph max |diff| = {diffs["PyTorch eager"]:.1e} '
                               f'(limit 1e-4: {"OK" if diffs["PyTorch eager"] < 1e-4 else "FAIL"})')
    load_before = os.getloadavg()[0]
    medians = medians_in_turns(runners, repeats)
    result['load'] = (load_before, os.getloadavg()[0])
    result['reference'] = reference
    for label, seconds in medians.items():
        result['rows'].append((label, seconds, seconds / medians[reference], diffs[label]))
    return result


def print_engines(r: dict, threads: int, repeats: int) -> None:
    print(f"\n### {r['model']} {r['size']}, batch 1, {threads} threads, medians of {repeats} in turns")
    if 'error' in r:
        print(f"\n{r['error']}\n", flush=True)
        return
    print(f"\nload (1 min) {r['load'][0]:.2f} -> {r['load'][1]:.2f}; " + '; '.join(r['notes']) + '\n')
    print(f"| engine | median s | vs {r['reference']} | max abs diff to dygraph |")
    print('|---|---|---|---|')
    for label, seconds, ratio, diff in r['rows']:
        print(f'| {label} | {seconds:.3f} | {ratio:.2f} | {diff:.1e} |')
    sys.stdout.flush()


def bench_int8(folder: str, repeats: int, threads: int) -> dict:
    """INT8 against fp32 ONNX Runtime on ``folder`` (a MODNet-MobileNetV2 export)."""
    from paddlematting.inference import Predictor
    from paddlematting.inference.quantization import quantize_int8
    from paddlematting.utils.image_io import read_image

    images = sorted(glob.glob(SHIPPED_IMAGES))
    quantize_int8(folder, images)
    fp32 = Predictor(folder, device='cpu', threads=threads, engine='onnxruntime')
    int8 = Predictor(folder, device='cpu', threads=threads, precision='int8')
    raw = [read_image(p) for p in images]
    diffs, alphas = [], []
    for image in raw:
        a32 = fp32.predict(image)
        diffs.append(np.abs(int8.predict(image) - a32))
        alphas.append(a32)
    x = np.random.default_rng(0).uniform(-1, 1, size=(1, 3, 512, 512)).astype(np.float32)
    medians = medians_in_turns({'fp32': lambda: fp32(x), 'int8': lambda: int8(x)}, repeats)
    return {'images': len(raw), 'mean': float(np.mean([d.mean() for d in diffs])),
            'max': float(max(d.max() for d in diffs)),
            'alpha_std': float(np.mean([a.std() for a in alphas])), **medians}


def make_pipeline_images(folder: str, count: int, size: Tuple[int, int]) -> List[str]:
    """``count`` JPEGs of ``size`` (h, w): the shipped real images, stretched."""
    from paddlematting.utils.image_io import read_image
    import cv2
    sources = sorted(glob.glob(SHIPPED_IMAGES))
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        image = cv2.resize(read_image(sources[i % len(sources)]), (size[1], size[0]))
        path = os.path.join(folder, f'img{i:02d}.jpg')
        cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def bench_pipeline(folder: str, work_dir: str, count: int, threads: int, size: Tuple[int, int]) -> dict:
    """predict.py's loop: read, transforms, default Predictor, restore, PNG write."""
    from paddlematting.inference import Predictor
    from paddlematting.pipeline.prediction import predict_alpha
    from paddlematting.utils.image_io import read_image, write_png

    predictor = Predictor(folder, device='cpu', threads=threads)
    tag = f'{size[1]}x{size[0]}'
    paths = make_pipeline_images(os.path.join(work_dir, 'images_' + tag), count, size)
    out_dir = os.path.join(work_dir, 'alphas_' + tag)
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
    return {'input': tag, 'engine': predictor.engine_name, 'images': len(paths),
            'prepared': ', '.join(sorted(shapes)), 'per_image_s': per_image,
            'images_per_s': 1.0 / per_image, 'bare_model_s': bare, 'ratio': per_image / bare}


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
print(json.dumps({{'engine': predictor.engine_name, 'shape': list(alpha.shape),
                  'rss_before_mb': before, 'rss_peak_mb': status_mb('VmHWM'),
                  'numpy_peak_mb': numpy_peak / 2**20}}))
'''


def bench_memory(folder: str, threads: int) -> dict:
    import json
    code = MEMORY_CHILD.format(repo=REPO_ROOT, folder=folder, threads=threads)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_average() -> str:
    return '%.2f' % os.getloadavg()[0]


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--repeats', type=int, default=14, help='rounds in turns (medians)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--images', type=int, default=10, help='images per pipeline size')
    parser.add_argument('--skip_torch', action='store_true')
    parser.add_argument('--skip_int8', action='store_true')
    parser.add_argument('--skip_pipeline', action='store_true')
    parser.add_argument('--skip_memory', action='store_true')
    args = parser.parse_args(argv)
    # dygraph and PyTorch eager take their thread count from OpenMP; set it before they load
    os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    import paddle

    command = 'python benchmarks/bench_inference.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    print(f'`{command.strip()}`\n')
    print(f'paddle {paddle.__version__}, {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} cores, {args.threads} threads; load average (1 min) before: {load_average()}')
    folders = {}
    with tempfile.TemporaryDirectory(prefix='bench_inference_') as work_dir:
        for name in args.models:
            result = bench_engines(name, work_dir, args.repeats, args.threads, not args.skip_torch)
            print_engines(result, args.threads, args.repeats)
            if 'folder' in result:
                folders[name] = result['folder']
        need = not (args.skip_int8 and args.skip_pipeline and args.skip_memory)
        if need and PIPELINE_MODEL not in folders:
            folders[PIPELINE_MODEL] = export_to(build_model(PIPELINE_MODEL), os.path.join(work_dir, PIPELINE_MODEL))
        folder = folders.get(PIPELINE_MODEL)
        if not args.skip_int8:
            q = bench_int8(folder, args.repeats, args.threads)
            print(f'\n### INT8 ({PIPELINE_MODEL}, RANDOM weights, ONNX Runtime static PTQ, QDQ, '
                  f'calibrated on the {q["images"]} shipped images; load {load_average()})\n')
            print('| fp32 s (512x512) | int8 s | int8 / fp32 | mean abs alpha diff | max abs alpha diff | '
                  'fp32 alpha std (context) |')
            print('|---|---|---|---|---|---|')
            print(f"| {q['fp32']:.3f} | {q['int8']:.3f} | {q['int8'] / q['fp32']:.2f} | {q['mean']:.4f} | "
                  f"{q['max']:.4f} | {q['alpha_std']:.4f} |", flush=True)
        if not args.skip_pipeline:
            print(f'\n### Pipeline ({PIPELINE_MODEL}, val config, {args.images} JPEGs per size; read, '
                  f'transforms, model, restore, PNG write; no foreground estimation in the package yet)\n')
            print('| input | engine | prepared | images/s | s/image | model calls s/image | pipeline / model | load |')
            print('|---|---|---|---|---|---|---|---|')
            for size in PIPELINE_SIZES.values():
                p = bench_pipeline(folder, work_dir, args.images, args.threads, size)
                print(f"| {p['input']} | {p['engine']} | {p['prepared']} | {p['images_per_s']:.2f} | "
                      f"{p['per_image_s']:.3f} | {p['bare_model_s']:.3f} | {p['ratio']:.2f}x | "
                      f'{load_average()} |', flush=True)
        if not args.skip_memory:
            m = bench_memory(folder, args.threads)
            print(f"\n### Memory, one 4000x3000 image ({PIPELINE_MODEL} val config, {m['engine']}, "
                  f"alpha {m['shape']})\n")
            print('| RSS before (MB) | peak RSS during the call (MB) | growth (MB) | numpy peak (MB) |')
            print('|---|---|---|---|')
            print(f"| {m['rss_before_mb']:.0f} | {m['rss_peak_mb']:.0f} | "
                  f"{m['rss_peak_mb'] - m['rss_before_mb']:.0f} | {m['numpy_peak_mb']:.0f} |")
    print(f'\nload average (1 min) after: {load_average()}')


if __name__ == '__main__':
    main()

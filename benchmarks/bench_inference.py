"""Our inference engines against each other and their peers, in turns; INT8 and bf16; the whole pipeline.

Usage: python benchmarks/bench_inference.py [--models modnet_mobilenetv2 ...] [--repeats 14]
           [--threads 2] [--images 6] [--pipeline_rounds 3] [--peer_onnx PATH] [--skip_torch]
           [--skip_int8] [--skip_bf16] [--skip_pipeline] [--skip_memory]

1. Engines: each model (pretrained weights off: speed does not depend on the values) is
   exported with ``export_model(..., onnx=True, choose_engine=True)`` - so deploy.yaml records
   the CPU engine that export timed fastest - and then run, batch 1, by our default
   ``Predictor`` (the recorded engine), a ``Predictor`` per engine (Paddle Inference, ONNX
   Runtime, OpenVINO), ONNX Runtime on our export with its default options, bf16 where the
   CPU has it, and dygraph. Peers of MODNet-MobileNetV2: the official MODNet ONNX export
   (``--peer_onnx PATH``; skipped with the reason when absent, as it is not downloadable
   here), and with torch installed the PyTorch MODNet's ONNX export (``torch_modnet.py``: the
   same network with our weights, exported like ZHKKKe/MODNet's ``export_onnx.py``) and
   PyTorch eager. Every peer ONNX file runs under ONNX Runtime twice, labelled: with the
   session options our engine uses (threads, no spinning: ``onnxruntime_session_options``)
   and with ONNX Runtime's defaults (only the thread count set), and under OpenVINO with
   ours and with its defaults. All rows run in turns (one call of each per round, the starting row rotating), so
   machine noise hits them alike; the median over ``--repeats`` rounds is reported, with the
   ratio to the reference row (ONNX Runtime with our options on the official export, else on
   the torch export, else on ours) and the max |output - dygraph output| (not for the
   official export: its weights are the published ones).
2. INT8 and bf16 (MODNet-MobileNetV2): each against fp32 on the same engine, in turns, and
   mean/max |alpha - alpha_fp32| of the full pipeline on the six shipped real images (INT8
   calibrated on them). bf16 runs only on CPUs with bf16 instructions; elsewhere the line
   users get is printed. The weights are random, so the error says how the precision
   treats this network's activations, not a trained model's.
3. Pipeline: what predict.py does, timed by ``bench_pipeline.py``'s ``bench_size`` (read,
   transforms, default Predictor, restore, blur-fusion foreground, alpha and RGBA PNG
   writes) on ``--images`` JPEGs at 720p and 1080p; images/s, and the ratio of the whole time
   to the model calls' time in the same run, for the network's matte and a true matte.
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
    'vitmatte_small': ('configs/vitmatte/vitmatte-small-composition1k.yml', 512),
    'birefnet_swin_t': ('configs/birefnet/birefnet-swin_t.yml', 1024),  # exported at one size
}
PIPELINE_MODEL = 'modnet_mobilenetv2'
TORCH_MODEL = 'modnet_mobilenetv2'
NO_PRETRAINED = ['model.backbone.pretrained=null', 'model.pretrained=null']
SHIPPED_IMAGES = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val', 'fg', '*.png')
OFFICIAL_EXPORT = 'official export'
TORCH_EXPORT = 'torch export'
REF_OFFICIAL_ORT = f'ONNX Runtime, {OFFICIAL_EXPORT}, our options'
REF_TORCH_ORT = f'ONNX Runtime, {TORCH_EXPORT}, our options'
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


def build_model(name: str, weights: Optional[str] = None):
    """``name`` built from its config in eval mode: random weights (seed 0), or ``weights``."""
    import paddle
    from paddlematting import Config
    from paddlematting.builders import Built
    paddle.seed(0)
    opts = NO_PRETRAINED if weights is None else [NO_PRETRAINED[0], f'model.pretrained={weights}']
    built = Built(Config(os.path.join(REPO_ROOT, MODELS[name][0]), opts=opts))
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


def ort_session(path: str, threads: int, ours: bool):
    """ONNX Runtime on ``path``: with the session options our onnxruntime engine uses
    (``ours``: threads, no spinning, sequential, every optimisation) or with ONNX Runtime's
    defaults and only the thread count set, as a user of a published export runs it."""
    import onnxruntime as ort
    from paddlematting.inference.engines import onnxruntime_session_options
    if ours:
        options = onnxruntime_session_options(threads)
    else:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
    return ort.InferenceSession(path, sess_options=options, providers=['CPUExecutionProvider'])


def onnx_rows(label: str, path: str, img: np.ndarray, threads: int) -> Dict[str, Callable]:
    """Runners on one ONNX file: ONNX Runtime with our options and with its defaults, and
    OpenVINO (when installed) with our compile options and with its defaults (no options:
    its own thread count and latency hint). The input is the file's first."""
    rows: Dict[str, Callable] = {}
    for ours, tag in ((True, 'our options'), (False, 'ORT defaults')):
        session = ort_session(path, threads, ours)
        name = session.get_inputs()[0].name
        rows[f'ONNX Runtime, {label}, {tag}'] = \
            lambda s=session, n=name: s.run(None, {n: img})[0]
    try:
        from paddlematting.inference.openvino_engine import OpenVinoEngine
        engine = OpenVinoEngine(path, threads)
    except ImportError:
        return rows
    rows[f'OpenVINO, {label}, our options'] = lambda: engine.run({engine.input_names[0]: img})[0]
    import openvino as ov
    request = ov.Core().compile_model(path, 'CPU').create_infer_request()
    rows[f'OpenVINO, {label}, OpenVINO defaults'] = lambda: request.infer([img])[0]
    return rows


def torch_peer(cfg, img: np.ndarray, work_dir: str, threads: int):
    """(runners, note): PyTorch eager and the torch ONNX export's rows, or a reason."""
    try:
        import torch
        import torch_modnet
    except ImportError as error:
        return {}, f'torch rows skipped: {error} (pip install torch, CPU build)'
    torch.set_num_threads(threads)
    model = torch_modnet.from_paddle(cfg.model)
    path = torch_modnet.export_onnx(model, os.path.join(work_dir, 'torch_modnet.onnx'))
    tensor = torch.from_numpy(img)

    def eager():
        with torch.inference_mode():
            return model(tensor).numpy()
    rows = onnx_rows(TORCH_EXPORT, path, img, threads)
    rows['PyTorch eager'] = eager
    return rows, f'torch {torch.__version__}, ONNX export opset 11 (TorchScript exporter)'


def official_peer(path: Optional[str], img: np.ndarray, threads: int):
    """(runners, note): the rows on the official MODNet ONNX file (``--peer_onnx``), or why
    there are none. Its weights are the published ones, so its outputs are not compared."""
    if not path:
        return {}, ('official MODNet ONNX rows skipped: no --peer_onnx PATH given (the file, '
                    'modnet_photographic_portrait_matting.onnx, is not downloadable here)')
    if not os.path.isfile(path):
        return {}, f'official MODNet ONNX rows skipped: --peer_onnx {path} does not exist'
    return onnx_rows(OFFICIAL_EXPORT, path, img, threads), f'official export: {path}'


def bf16_rows(folder: str, img: np.ndarray, trimap, threads: int):
    """(runners, note): our Predictor in bf16, where this CPU has it; else the refusal line."""
    from paddlematting.inference import Predictor
    try:
        predictor = Predictor(folder, device='cpu', threads=threads, precision='bf16')
    except (ValueError, ImportError, OSError) as error:
        return {}, f'bf16 rows skipped: {error}'
    return {f'our Predictor, bf16 ({predictor.engine_name})': lambda: predictor(img, trimap)}, ''


def engine_runners(folder: str, img: np.ndarray, trimap, threads: int):
    """Our rows: the default Predictor (deploy.yaml's choice) and each engine by name; plus
    ONNX Runtime on our export with its default options (what our options are worth)."""
    from paddlematting.inference import Predictor
    from paddlematting.inference.engines import ENGINES
    default = Predictor(folder, device='cpu', threads=threads)
    runners = {f'our default Predictor ({default.engine_name})': lambda: default(img, trimap)}
    labels = {'paddle_inference': 'Paddle Inference', 'onnxruntime': REF_OUR_ORT,
              'openvino': 'OpenVINO, our export'}
    for engine in ENGINES:
        try:
            predictor = Predictor(folder, device='cpu', threads=threads, engine=engine)
        except (ImportError, OSError) as error:  # no model.onnx, engine not installed
            print(f'({labels[engine]}: not run, {error})')
            continue
        runners[labels[engine]] = lambda p=predictor: p(img, trimap)
    if default.deploy.onnx_file and trimap is None:
        session = ort_session(default.deploy.onnx_path, threads, ours=False)
        runners['ONNX Runtime, our export, ORT defaults'] = \
            lambda: session.run(None, {'img': img})[0]
    return default, runners


def bench_engines(name: str, work_dir: str, args: argparse.Namespace) -> dict:
    """Time every runner of ``name`` in turns; returns the table rows and notes."""
    import paddle

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
    default, runners = engine_runners(folder, img, trimap, args.threads)
    result['notes'].append(f'deploy.yaml cpu_engine: {default.engine_name} (export-time medians ms: '
                           + ', '.join(f'{k} {v:.0f}' for k, v in default.deploy.engine_ms.items()) + ')')
    if not default.deploy.onnx_file:  # paddle2onnx could not convert this network
        result['notes'].append('no ONNX model (paddle2onnx could not convert it)')
    peers = [bf16_rows(folder, img, trimap, args.threads)]
    if name == TORCH_MODEL:
        peers.append(official_peer(args.peer_onnx, img, args.threads))
        if not args.skip_torch:
            peers.append(torch_peer(cfg, img, work_dir, args.threads))
    for rows, note in peers:
        runners.update(rows)
        result['notes'] += [note] if note else []
    reference = next((label for label in (REF_OFFICIAL_ORT, REF_TORCH_ORT, REF_OUR_ORT)
                      if label in runners), 'Paddle Inference')
    inputs = {'img': paddle.to_tensor(img)}
    if trimap is not None:
        inputs['trimap'] = paddle.to_tensor(trimap)

    def dygraph():
        with paddle.no_grad():
            return cfg.model(inputs).numpy()
    runners['our dygraph'] = dygraph

    expected = dygraph()
    diffs = {label: float('nan') if OFFICIAL_EXPORT in label else
             float(np.abs(np.asarray(fn()) - expected).max()) for label, fn in runners.items()}
    load_before = os.getloadavg()[0]
    medians = medians_in_turns(runners, args.repeats)
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
        shown = 'n/a (published weights)' if diff != diff else f'{diff:.1e}'  # NaN: not compared
        print(f'| {label} | {seconds:.3f} | {ratio:.2f} | {shown} |')
    sys.stdout.flush()


PRECISION_ENGINES = {'int8': ('onnxruntime',), 'bf16': ('openvino', 'paddle_inference')}
SHIPPED_ALPHAS = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val', 'alpha')


def bench_precision(folder: str, precision: str, engine: str, repeats: int, threads: int) -> dict:
    """``precision`` ('int8' or 'bf16') against fp32 on ``engine`` for ``folder`` (a
    MODNet-MobileNetV2 export): medians in turns at 512x512; mean/max |alpha - alpha_fp32| of
    the whole pipeline on the shipped images, and each precision's SAD against their true
    mattes (whole image, alphas in [0, 255] / 1000). int8 quantizes the folder first
    (``quantize_int8``, calibrated on those images). Raises ValueError where this CPU cannot
    (bf16 without bf16 instructions)."""
    from paddlematting.inference import Predictor
    from paddlematting.inference.quantization import quantize_int8
    from paddlematting.metrics import SAD
    from paddlematting.utils.image_io import read_alpha, read_image

    images = sorted(glob.glob(SHIPPED_IMAGES))
    if precision == 'int8':
        quantize_int8(folder, images)
    reduced = Predictor(folder, device='cpu', threads=threads, precision=precision, engine=engine)
    fp32 = Predictor(folder, device='cpu', threads=threads, engine=reduced.engine_name)
    diffs, alphas, sad32, sad_reduced = [], [], SAD(), SAD()
    for path in images:
        image = read_image(path)
        truth = read_alpha(os.path.join(SHIPPED_ALPHAS, os.path.basename(path)))
        a32, low = fp32.predict(image), reduced.predict(image)
        diffs.append(np.abs(low - a32))
        alphas.append(a32)
        sad32.update(a32 * 255.0, truth)
        sad_reduced.update(low * 255.0, truth)
    x = np.random.default_rng(0).uniform(-1, 1, size=(1, 3, 512, 512)).astype(np.float32)
    medians = medians_in_turns({'fp32': lambda: fp32(x), 'reduced': lambda: reduced(x)}, repeats)
    return {'images': len(images), 'engine': reduced.engine_name,
            'mean': float(np.mean([d.mean() for d in diffs])),
            'max': float(max(d.max() for d in diffs)),
            'alpha_std': float(np.mean([a.std() for a in alphas])),
            'sad_fp32': sad32.evaluate(), 'sad_reduced': sad_reduced.evaluate(), **medians}


def print_precision(folder: str, precision: str, args: argparse.Namespace) -> None:
    how = {'int8': 'ONNX Runtime static PTQ, QDQ, calibrated on the shipped images',
           'bf16': 'INFERENCE_PRECISION_HINT bf16 / oneDNN bf16'}[precision]
    weights = f'trained weights {args.weights}' if args.weights else 'RANDOM weights'
    print(f'\n### {precision} ({PIPELINE_MODEL}, {weights}, {how}; load {load_average()})\n')
    print(f'| engine | fp32 s (512x512) | {precision} s | {precision} / fp32 | mean abs alpha diff '
          f'(shipped images) | max abs alpha diff | fp32 alpha std (context) | SAD fp32 | '
          f'SAD {precision} |')
    print('|---|---|---|---|---|---|---|---|---|')
    for engine in PRECISION_ENGINES[precision]:
        try:
            q = bench_precision(folder, precision, engine, args.repeats, args.threads)
        except ValueError as error:  # bf16 on a CPU without it: the one line users get
            print(f'| {engine} | not run: {error} |', flush=True)
            continue
        except ImportError as error:
            print(f'| {engine} | not installed: {error} |', flush=True)
            continue
        print(f"| {q['engine']} | {q['fp32']:.3f} | {q['reduced']:.3f} | "
              f"{q['reduced'] / q['fp32']:.2f} | {q['mean']:.4f} | {q['max']:.4f} | "
              f"{q['alpha_std']:.4f} | {q['sad_fp32']:.2f} | {q['sad_reduced']:.2f} |", flush=True)


def precision_folder(args: argparse.Namespace, work_dir: str, default: str) -> str:
    """The export the precision rows use: ``default`` (random weights), or with
    ``--weights`` a fresh export of MODNet-MobileNetV2 with those trained weights."""
    if not args.weights:
        return default
    return export_to(build_model(PIPELINE_MODEL, args.weights), os.path.join(work_dir, 'trained'),
                     choose=False)


def print_pipeline(folder: str, work_dir: str, args: argparse.Namespace) -> None:
    """predict.py's whole loop (``bench_pipeline.bench_size``: read, transforms, the default
    Predictor, restore, blur-fusion foreground, alpha + RGBA PNG writes) at 720p and 1080p."""
    import bench_pipeline
    from paddlematting.inference import Predictor
    predictor = Predictor(folder, device='cpu', threads=args.threads)
    print(f'\n### Pipeline ({PIPELINE_MODEL}, val config, predict.py\'s predict_images with its '
          f'defaults, {args.images} JPEGs per size, medians of {args.pipeline_rounds} rounds, '
          f'{predictor.engine_name})\n')
    print('| input | matte | images/s | s/image | model calls s/image | pipeline / model | load |')
    print('|---|---|---|---|---|---|---|')
    rounds = argparse.Namespace(images=args.images, rounds=args.pipeline_rounds)
    for label in bench_pipeline.SIZES:
        load = os.getloadavg()[0]
        results = bench_pipeline.bench_size(predictor, work_dir, label, rounds)
        for case, r in results.items():
            print(f"| {label} | {case} | {1 / r['per_image']:.2f} | {r['per_image']:.3f} | "
                  f"{r['model']:.3f} | {r['ratio']:.2f}x | {load:.2f} -> {load_average()} |",
                  flush=True)


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


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--repeats', type=int, default=14, help='rounds in turns (medians)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--images', type=int, default=6, help='images per pipeline size')
    parser.add_argument('--pipeline_rounds', type=int, default=3, help='pipeline rounds (medians)')
    parser.add_argument('--peer_onnx', default=None, metavar='PATH',
                        help="the official MODNet ONNX export (ZHKKKe/MODNet's "
                             "modnet_photographic_portrait_matting.onnx); its rows are skipped, "
                             "with the reason, without it")
    parser.add_argument('--weights', default=None, metavar='PDPARAMS',
                        help='trained MODNet-MobileNetV2 weights for the int8/bf16 accuracy '
                             'rows (e.g. tools/run_demo.py --iters 300 writes them); random '
                             'weights without it')
    parser.add_argument('--skip_torch', action='store_true')
    parser.add_argument('--skip_int8', action='store_true')
    parser.add_argument('--skip_bf16', action='store_true')
    parser.add_argument('--skip_pipeline', action='store_true')
    parser.add_argument('--skip_memory', action='store_true')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
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
            result = bench_engines(name, work_dir, args)
            print_engines(result, args.threads, args.repeats)
            if 'folder' in result:
                folders[name] = result['folder']
        if PIPELINE_MODEL not in folders:
            folders[PIPELINE_MODEL] = export_to(build_model(PIPELINE_MODEL), os.path.join(work_dir, PIPELINE_MODEL))
        folder = folders[PIPELINE_MODEL]
        precision_export = None
        for precision in ('int8', 'bf16'):
            if not getattr(args, f'skip_{precision}'):
                precision_export = precision_export or precision_folder(args, work_dir, folder)
                print_precision(precision_export, precision, args)
        if not args.skip_pipeline:
            print_pipeline(folder, work_dir, args)
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

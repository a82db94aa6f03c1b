"""Engine settings side by side on one exported model, timed in turns (for tuning engines.py).

Usage: python benchmarks/tune_engines.py [--model modnet_mobilenetv2] [--repeats 14] [--threads 2]
           [--variants pi_default pi_no_placement ...]

Variants (each a fresh predictor/session on the same export, batch 1):
- pi_default: ``PaddleInferenceEngine`` as shipped;
- (``config.enable_memory_optim()`` is not a variant: with a PIR program Paddle 3.2.2's
  create_predictor fails on it, 'Not find ... memory_optimize_pass')
- pi_no_placement: without ``onednn_placement_pass``, so only the ops the fusion passes made
  oneDNN ops (the fused convolutions) run in oneDNN; slice/concat/norms/resize get Paddle's
  plain kernels. (``set_onednn_op`` would be the documented way, but a PIR program ignores it);
- pi_unbounded_cache: without ``set_onednn_cache_capacity`` (oneDNN's default caching of
  primitives, not keyed by the input shape);
- pi_no_onednn: ``config.disable_onednn()``: Paddle's plain CPU kernels everywhere (merely not
  calling ``enable_onednn`` keeps oneDNN on: it is the default of the CPU build);
- ort_default: ``OnnxRuntimeEngine`` as shipped (ORT_ENABLE_ALL, NCHWc layout);
- ort_extended: ORT_ENABLE_EXTENDED (no NCHWc layout transformation, so no reorders);
- ort_spin: intra-op threads spin between ops (ONNX Runtime's own default; the engine turns
  spinning off).
Prints median seconds, the ratio to the first variant and the max |output - first variant's|.
"""
import argparse
import os
import sys
from typing import Callable, Dict, List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_inference import MODELS, build_model, export_to, medians_in_turns, model_inputs  # noqa: E402


def paddle_variant(folder: str, threads: int, kind: str) -> Callable:
    from paddle import inference as paddle_infer
    from paddlematting.inference.deploy_config import load_deploy_config
    from paddlematting.inference.engines import PaddleInferenceEngine

    deploy = load_deploy_config(folder)
    if kind == 'pi_default':
        return PaddleInferenceEngine(deploy, 'cpu', threads).run
    config = paddle_infer.Config(deploy.model_path, deploy.params_path)
    config.disable_glog_info()
    config.switch_ir_optim(True)
    config.disable_gpu()
    config.set_cpu_math_library_num_threads(threads)
    if kind == 'pi_no_onednn':
        config.disable_onednn()
    else:
        config.enable_onednn()
        if kind != 'pi_unbounded_cache':
            config.set_onednn_cache_capacity(10)
    if kind == 'pi_no_placement':
        config.delete_pass('onednn_placement_pass')
    predictor = paddle_infer.create_predictor(config)
    inputs = {n: predictor.get_input_handle(n) for n in predictor.get_input_names()}
    outputs = [predictor.get_output_handle(n) for n in predictor.get_output_names()]

    def run(feeds):
        for name, array in feeds.items():
            inputs[name].reshape(array.shape)
            inputs[name].copy_from_cpu(array)
        predictor.run()
        return [o.copy_to_cpu() for o in outputs]
    return run


def ort_variant(folder: str, threads: int, kind: str) -> Callable:
    import onnxruntime as ort
    from paddlematting.inference.engines import onnxruntime_session_options
    options = onnxruntime_session_options(threads)
    if kind == 'ort_extended':
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    if kind == 'ort_spin':
        options.add_session_config_entry('session.intra_op.allow_spinning', '1')
    session = ort.InferenceSession(os.path.join(folder, 'model.onnx'), sess_options=options,
                                   providers=['CPUExecutionProvider'])
    return lambda feeds: session.run(None, feeds)


VARIANTS = ['pi_default', 'pi_no_placement', 'pi_unbounded_cache', 'pi_no_onednn',
            'ort_default', 'ort_extended', 'ort_spin']


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='modnet_mobilenetv2', choices=list(MODELS))
    parser.add_argument('--repeats', type=int, default=14)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--variants', nargs='+', default=VARIANTS, choices=VARIANTS)
    args = parser.parse_args(argv)
    os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    import tempfile
    cfg = build_model(args.model)
    img, trimap = model_inputs(cfg, MODELS[args.model][1])
    feeds = {'img': img} if trimap is None else {'img': img, 'trimap': trimap}
    with tempfile.TemporaryDirectory(prefix='tune_engines_') as work_dir:
        folder = export_to(cfg, os.path.join(work_dir, args.model), choose=False)
        runners: Dict[str, Callable] = {}
        for kind in args.variants:
            make = paddle_variant if kind.startswith('pi_') else ort_variant
            runners[kind] = make(folder, args.threads, kind)
        outputs = {k: np.asarray(r(feeds)[0]) for k, r in runners.items()}
        load = os.getloadavg()[0]
        medians = medians_in_turns({k: (lambda r=r: r(feeds)) for k, r in runners.items()}, args.repeats)
    first = args.variants[0]
    print(f'\n{args.model}, {args.threads} threads, medians of {args.repeats} in turns, '
          f'load (1 min) {load:.2f} -> {os.getloadavg()[0]:.2f}\n')
    print(f'| variant | median s | vs {first} | max abs diff to {first} |')
    print('|---|---|---|---|')
    for kind, seconds in medians.items():
        diff = float(np.abs(outputs[kind] - outputs[first]).max())
        print(f'| {kind} | {seconds:.3f} | {seconds / medians[first]:.2f} | {diff:.1e} |')


if __name__ == '__main__':
    main()

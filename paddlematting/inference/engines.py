"""The engines that run an exported folder: Paddle Inference, ONNX Runtime and OpenVINO.

All take the same feeds (``{'img': float32 [N,3,H,W], 'trimap': float32 [N,1,H,W]}``) and
return the program's outputs in order (the first is the alpha [N,1,H,W]). ``Predictor`` in
``predictor.py`` chooses one and owns everything around it (checks, transforms, pipeline).

- ``paddle_inference``: Paddle's own runtime; oneDNN on CPU, CUDA and optionally TensorRT on
  GPU. Its IR passes fold BatchNorm into the convolutions and fuse conv + activation.
- ``onnxruntime``: the ``model.onnx`` that ``export.py --onnx`` writes, under ONNX Runtime's
  CPU (or CUDA) execution provider, with every graph optimisation on (BatchNorm folding,
  conv + activation fusion, one layout end to end).
- ``openvino``: the same ``model.onnx`` compiled by OpenVINO's CPU plugin
  (``openvino_engine.py``). OpenVINO's Paddle frontend reads only the old ``.pdmodel``
  format, which Paddle 3.2.2 no longer writes for our models (their PIR ``model.json`` it
  cannot read), so a network paddle2onnx cannot convert (PP-MattingV2) stays on Paddle
  Inference.
"""
from typing import Dict, List, Optional

import numpy as np

from ..utils.cpu_threads import physical_cores
from .deploy_config import ENGINE_NAMES, DeployConfig
from .openvino_engine import OPENVINO, OpenVinoEngine
from .precision import check_precision

PADDLE_INFERENCE = 'paddle_inference'
ONNXRUNTIME = 'onnxruntime'
ENGINES = ENGINE_NAMES
assert ENGINES == (PADDLE_INFERENCE, ONNXRUNTIME, OPENVINO)
# oneDNN keeps compiled kernels per input shape; bound how many shapes it remembers
ONEDNN_SHAPE_CACHE = 10

__all__ = ['PADDLE_INFERENCE', 'ONNXRUNTIME', 'OPENVINO', 'ENGINES', 'ExportedModelUnreadableError',
           'default_threads', 'create_engine',
           'PaddleInferenceEngine', 'OnnxRuntimeEngine', 'OpenVinoEngine',
           'onnxruntime_session_options']


class ExportedModelUnreadableError(OSError):
    """An engine cannot load an exported folder's program or weights (a cut-off or damaged
    ``model.pdiparams``, a foreign file): one line naming the files and the engine's reason."""

    def __init__(self, files: str, error: BaseException):
        from ..config.bounded_repr import short_error
        super().__init__(f'{files}: the exported model cannot be loaded ({short_error(error)}); '
                         f'is a file cut off or from another export? Export it again with '
                         f'export.py')


def default_threads(reserved: int = 0) -> int:
    """Math threads for one engine: the physical cores this process may use, less ``reserved``
    (e.g. DataLoader workers running beside it), at least 1.

    Hyper-threads share a core's vector units, so counting them only adds contention
    (``utils.cpu_threads.physical_cores``).
    """
    return max(1, physical_cores() - max(0, reserved))


class PaddleInferenceEngine:
    """Paddle Inference on the folder's ``model.json``/``.pdmodel`` + ``model.pdiparams``.

    Args:
        deploy: the folder's deploy.yaml.
        device: 'cpu' or 'gpu'.
        threads: CPU math threads.
        tensorrt: None, 'fp32' or 'fp16' (GPU only; needs a TensorRT build of Paddle).
        trt_min_size, trt_max_size: the dynamic-shape range TensorRT is built for (pixels/side).
        bf16: CPU only: oneDNN's bfloat16 kernels (``precision.check_precision`` first).
    """
    name = PADDLE_INFERENCE

    def __init__(self, deploy: DeployConfig, device: str, threads: int,
                 tensorrt: Optional[str] = None, trt_min_size: int = 32, trt_max_size: int = 2048,
                 bf16: bool = False):
        from paddle import inference as paddle_infer
        from ..models.traits import INPUT_CHANNELS

        config = paddle_infer.Config(deploy.model_path, deploy.params_path)
        config.disable_glog_info()
        config.switch_ir_optim(True)
        if device == 'cpu':
            config.disable_gpu()
            config.enable_mkldnn()
            config.set_mkldnn_cache_capacity(ONEDNN_SHAPE_CACHE)
            config.set_cpu_math_library_num_threads(threads)
            if bf16:
                config.enable_onednn_bfloat16()
        else:
            config.enable_use_gpu(256, 0)
            if tensorrt is not None:
                precisions = {'fp32': paddle_infer.PrecisionType.Float32,
                              'fp16': paddle_infer.PrecisionType.Half}
                config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=1,
                                              min_subgraph_size=3,
                                              precision_mode=precisions[tensorrt],
                                              use_static=False, use_calib_mode=False)
                shapes = [{name: [1, INPUT_CHANNELS[name], size, size] for name in deploy.input_names}
                          for size in (trt_min_size, trt_max_size, 512)]
                # recurrent states (RVM): from a 1x1 zero state up to a full-size one
                for shape, size in zip(shapes, (1, trt_max_size, 32)):
                    shape.update({name: [1, c, size, size]
                                  for name, c in zip(deploy.state_names, deploy.state_channels)})
                config.set_trt_dynamic_shape_info(*shapes)
        try:
            self._predictor = paddle_infer.create_predictor(config)
        except Exception as error:  # noqa: BLE001 - paddle's C++ errors: one line for the user
            raise ExportedModelUnreadableError(f'{deploy.model_path} + {deploy.params_path}',
                                               error) from error
        self.input_names: List[str] = list(self._predictor.get_input_names())
        self._inputs = {n: self._predictor.get_input_handle(n) for n in self.input_names}
        self._outputs = [self._predictor.get_output_handle(n)
                         for n in self._predictor.get_output_names()]

    def run(self, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        for name, array in feeds.items():
            handle = self._inputs[name]
            handle.reshape(array.shape)
            handle.copy_from_cpu(np.ascontiguousarray(array, dtype=np.float32))
        self._predictor.run()
        return [out.copy_to_cpu() for out in self._outputs]


def onnxruntime_session_options(threads: int):
    """The ONNX Runtime session options the onnxruntime engine uses (benchmarks and the
    profiler reuse them, so they measure what users run)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: its per-node notices do not concern users
    # idle pool threads sleep instead of spinning between ops: spinning burns the cores that
    # DataLoader workers, the pipeline's own pre/post-processing and other processes need;
    # on a loaded 2-core machine MODNet-MobileNetV2 then took 0.65-0.92x the time
    # (benchmarks/tune_engines.py, ort_spin variant; benchmarks/README.md)
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return options


class OnnxRuntimeEngine:
    """ONNX Runtime on ``model_path`` (the folder's model.onnx, or its INT8 version).

    Args:
        model_path: an .onnx file.
        device: 'cpu' or 'gpu' (the CUDA provider; needs onnxruntime-gpu).
        threads: intra-op threads (inter-op parallelism stays off: the graph is one chain).
    """
    name = ONNXRUNTIME

    def __init__(self, model_path: str, device: str, threads: int):
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise ImportError('The onnxruntime backend needs onnxruntime: '
                              '`pip install -e .[onnx]` (or onnxruntime-gpu for GPUs).') from error
        options = onnxruntime_session_options(threads)
        providers = ['CPUExecutionProvider']
        if device == 'gpu':
            if 'CUDAExecutionProvider' not in ort.get_available_providers():
                raise RuntimeError("device='gpu' with the onnxruntime backend needs the "
                                   "onnxruntime-gpu package (CUDAExecutionProvider).")
            providers.insert(0, 'CUDAExecutionProvider')
        try:
            self._session = ort.InferenceSession(model_path, sess_options=options,
                                                 providers=providers)
        except Exception as error:  # noqa: BLE001 - onnxruntime's C++ errors: one line
            raise ExportedModelUnreadableError(model_path, error) from error
        self.input_names = [i.name for i in self._session.get_inputs()]

    def run(self, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        return self._session.run(None, {k: np.ascontiguousarray(v, dtype=np.float32)
                                        for k, v in feeds.items()})


def _onnx_file(deploy: DeployConfig, engine: str, precision: str) -> str:
    """The model file an ONNX-reading engine opens, or FileNotFoundError naming what is missing."""
    path = deploy.int8_onnx_path if precision == 'int8' else deploy.onnx_path
    if path is None:
        what = 'an INT8 model (export.py --quantize int8)' if precision == 'int8' else \
            'model.onnx (export.py --onnx)'
        raise FileNotFoundError(f'{deploy.folder} holds no {what}, which the {engine} engine '
                                f'runs.')
    return path


def create_engine(deploy: DeployConfig, engine: str, device: str, threads: int,
                  tensorrt: Optional[str] = None, precision: str = 'fp32', **trt_sizes):
    """Open ``deploy``'s folder with the named engine (see ``ENGINES``).

    ``precision='int8'`` runs the quantized ONNX model (``export.py --quantize int8``) and
    needs the onnxruntime engine; ``'bf16'`` needs openvino or paddle_inference on a CPU with
    bf16 instructions (``precision.check_precision`` refuses it elsewhere, in one line).
    """
    if engine not in ENGINES:
        raise ValueError(f'engine must be one of {ENGINES}, got {engine!r}.')
    check_precision(precision)
    needs = {'int8': (ONNXRUNTIME,), 'bf16': (OPENVINO, PADDLE_INFERENCE)}.get(precision)
    if needs is not None and engine not in needs:
        raise ValueError(f'precision {precision!r} needs the {" or ".join(needs)} engine, not '
                         f'{engine}.')
    if precision == 'bf16' and device != 'cpu':
        raise ValueError("precision 'bf16' is a CPU option (device='cpu').")
    if tensorrt is not None and engine != PADDLE_INFERENCE:
        raise ValueError(f'tensorrt is a Paddle Inference option; the {engine} engine does not '
                         f'take it.')
    if engine == PADDLE_INFERENCE:
        return PaddleInferenceEngine(deploy, device, threads, tensorrt, bf16=precision == 'bf16',
                                     **trt_sizes)
    path = _onnx_file(deploy, engine, precision)
    if engine == ONNXRUNTIME:
        return OnnxRuntimeEngine(path, device, threads)
    if device != 'cpu':
        raise ValueError("the openvino engine runs on the CPU (device='cpu').")
    return OpenVinoEngine(path, threads, precision)

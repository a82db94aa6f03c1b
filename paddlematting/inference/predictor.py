"""Run an exported folder with Paddle Inference: oneDNN on CPU, CUDA (optionally TensorRT) on GPU."""
import os
from typing import Optional

import numpy as np
from paddle import inference as paddle_infer

from ..models.traits import INPUT_CHANNELS
from ..builders.dataset import build_transforms
from ..pipeline.prediction import predict_alpha
from ..utils.device import gpu_available
from .deploy_config import DEPLOY_FILE, DeployConfig, load_deploy_config

TRT_PRECISIONS = {'fp32': paddle_infer.PrecisionType.Float32, 'fp16': paddle_infer.PrecisionType.Half}
# oneDNN keeps compiled kernels per input shape; bound how many shapes it remembers
ONEDNN_SHAPE_CACHE = 10


class Predictor:
    """An exported matting model behind Paddle Inference.

    Args:
        folder: a folder written by ``export_model`` (deploy.yaml + model files).
        device: 'cpu' or 'gpu'; default 'gpu' when ``gpu_available()`` else 'cpu'.
        threads: CPU math threads; default ``os.cpu_count()``.
        tensorrt: None, 'fp32' or 'fp16' to run GPU subgraphs through TensorRT
            (needs a Paddle build with TensorRT; dynamic shapes between
            ``trt_min_size`` and ``trt_max_size`` pixels per side).
    Calling ``predictor(img, trimap)`` runs the bare model; ``predict`` runs the
    whole raw-image pipeline.
    """

    def __init__(self, folder: str, device: Optional[str] = None, threads: Optional[int] = None,
                 tensorrt: Optional[str] = None, trt_min_size: int = 32, trt_max_size: int = 2048):
        self.deploy: DeployConfig = load_deploy_config(folder)
        self.device = device or ('gpu' if gpu_available() else 'cpu')
        if self.device not in ('cpu', 'gpu'):
            raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}.")
        if self.device == 'gpu' and not gpu_available():
            raise RuntimeError("device='gpu' was asked for, but this Paddle build has no CUDA or sees no GPU.")
        if tensorrt is not None and tensorrt not in TRT_PRECISIONS:
            raise ValueError(f'tensorrt must be None or one of {sorted(TRT_PRECISIONS)}, got {tensorrt!r}.')
        if tensorrt is not None and self.device != 'gpu':
            raise ValueError('tensorrt needs device="gpu".')
        self.threads = threads or os.cpu_count() or 1

        config = paddle_infer.Config(self.deploy.model_path, self.deploy.params_path)
        config.disable_glog_info()
        config.switch_ir_optim(True)
        if self.device == 'cpu':
            config.disable_gpu()
            config.enable_mkldnn()
            config.set_mkldnn_cache_capacity(ONEDNN_SHAPE_CACHE)
            config.set_cpu_math_library_num_threads(self.threads)
        else:
            config.enable_use_gpu(256, 0)
            if tensorrt is not None:
                self._enable_tensorrt(config, tensorrt, trt_min_size, trt_max_size)
        self._predictor = paddle_infer.create_predictor(config)
        names = self._predictor.get_input_names()
        missing = set(self.deploy.input_names) - set(names)
        if missing:
            raise ValueError(f'{self.deploy.model_path} lacks the inputs {sorted(missing)} that deploy.yaml lists.')
        self._inputs = {name: self._predictor.get_input_handle(name) for name in names}
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])
        self.transforms = build_transforms(self.deploy.transforms,
                                           os.path.join(self.deploy.folder, DEPLOY_FILE))

    def _enable_tensorrt(self, config, precision: str, min_size: int, max_size: int) -> None:
        config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=1, min_subgraph_size=3,
                                      precision_mode=TRT_PRECISIONS[precision],
                                      use_static=False, use_calib_mode=False)
        shapes = [{name: [1, INPUT_CHANNELS[name], size, size] for name in self.deploy.input_names}
                  for size in (min_size, max_size, 512)]
        config.set_trt_dynamic_shape_info(*shapes)

    @property
    def needs_trimap(self) -> bool:
        return self.deploy.needs_trimap

    def __call__(self, img: np.ndarray, trimap: Optional[np.ndarray] = None) -> np.ndarray:
        """Run the bare model.

        Args:
            img: float32 [N,3,H,W], already normalised.
            trimap: float32 [N,1,H,W] in 0..255; required by trimap models (DIM), ignored otherwise.
        Returns:
            float32 [N,1,H,W] alpha in [0,1].
        """
        if img.ndim != 4 or img.shape[1] != 3:
            raise ValueError(f'img must be [N,3,H,W], got shape {img.shape}.')
        feeds = {'img': img}
        if self.needs_trimap:
            if trimap is None:
                raise ValueError(f'the model in {self.deploy.folder} ({self.deploy.model_type}) needs a trimap.')
            if trimap.shape != (img.shape[0], 1) + img.shape[2:]:
                raise ValueError(f'trimap must be [N,1,H,W] matching img {img.shape}, got {trimap.shape}.')
            feeds['trimap'] = trimap
        for name, array in feeds.items():
            handle = self._inputs[name]
            handle.reshape(array.shape)
            handle.copy_from_cpu(np.ascontiguousarray(array, dtype=np.float32))
        self._predictor.run()
        return self._output.copy_to_cpu()

    def predict(self, image: np.ndarray, trimap: Optional[np.ndarray] = None) -> np.ndarray:
        """Whole pipeline on a raw image.

        Args:
            image: uint8 [H,W,3] RGB.
            trimap: uint8 [H,W] with 0/128/255; needed by trimap models, optional otherwise
                (where given, its certain regions override the prediction).
        Returns:
            float32 [H,W] alpha in [0,1] at the image's size.
        """
        if self.needs_trimap and trimap is None:
            raise ValueError(f'the model in {self.deploy.folder} ({self.deploy.model_type}) needs a trimap.')
        return predict_alpha(self, image, trimap, self.transforms)

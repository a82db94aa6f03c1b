"""Run an exported folder: Paddle Inference, ONNX Runtime or OpenVINO, the same checks and
pipeline."""
import copy
import importlib.util
import logging
from typing import Dict, List, Optional

import numpy as np

from ..builders.dataset import build_transforms
from ..pipeline.prediction import predict_alpha
from ..utils.device import gpu_available
from .deploy_config import DEPLOY_FILE, DeployConfig, load_deploy_config
from .engines import ENGINES, ONNXRUNTIME, OPENVINO, PADDLE_INFERENCE, create_engine, default_threads
from .precision import PRECISIONS, check_precision

logger = logging.getLogger('paddlematting')

TRT_PRECISIONS = ('fp32', 'fp16')


class Predictor:
    """An exported matting model behind Paddle Inference, ONNX Runtime or OpenVINO.

    Args:
        folder: a folder written by ``export_model`` (deploy.yaml + model files).
        device: 'cpu' or 'gpu'; default 'gpu' when ``gpu_available()`` else 'cpu'.
        threads: CPU math threads; default ``engines.default_threads()`` (physical cores).
        engine: 'paddle_inference', 'onnxruntime' or 'openvino'; default on CPU: the one
            deploy.yaml recorded as fastest at export (``cpu_engine``; Paddle Inference when
            it names none, or names one not installed here); on GPU: Paddle Inference.
        precision: 'fp32'; 'int8' for the quantized ONNX model (``export.py --quantize
            int8``; onnxruntime engine only); 'bf16' on CPUs with bf16 instructions
            (openvino when it can read the folder, else Paddle Inference's oneDNN; refused
            in one line elsewhere). Never the default.
        tensorrt: None, 'fp32' or 'fp16' to run GPU subgraphs through TensorRT
            (Paddle Inference only; needs a Paddle build with TensorRT; dynamic shapes between
            ``trt_min_size`` and ``trt_max_size`` pixels per side).
        carry_state: recurrent models (RVM) only: True to carry the state from each call to
            the next (frames of one video; call ``reset()`` before each clip), False (default)
            to start every call from a zero state (independent images).
    Calling ``predictor(img, trimap)`` runs the bare model; ``predict`` runs the
    whole raw-image pipeline.
    """

    def __init__(self, folder: str, device: Optional[str] = None, threads: Optional[int] = None,
                 tensorrt: Optional[str] = None, trt_min_size: int = 32, trt_max_size: int = 2048,
                 engine: Optional[str] = None, precision: str = 'fp32', carry_state: bool = False):
        self.deploy: DeployConfig = load_deploy_config(folder)
        self.device = device or ('gpu' if gpu_available() else 'cpu')
        if self.device not in ('cpu', 'gpu'):
            raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}.")
        if self.device == 'gpu' and not gpu_available() and engine != 'onnxruntime':
            raise RuntimeError("device='gpu' was asked for, but this Paddle build has no CUDA or sees no GPU.")
        if tensorrt is not None and tensorrt not in TRT_PRECISIONS:
            raise ValueError(f'tensorrt must be None or one of {list(TRT_PRECISIONS)}, got {tensorrt!r}.')
        if tensorrt is not None and self.device != 'gpu':
            raise ValueError('tensorrt needs device="gpu".')
        if engine is not None and engine not in ENGINES:
            raise ValueError(f'engine must be one of {list(ENGINES)}, got {engine!r}.')
        check_precision(precision)
        engine = engine or self._default_engine(precision)
        self.engine_name = engine
        self.precision = precision
        self.threads = threads or default_threads()
        self._engine = create_engine(self.deploy, engine, self.device, self.threads,
                                     tensorrt=tensorrt, precision=precision,
                                     trt_min_size=trt_min_size, trt_max_size=trt_max_size)
        missing = set(self.deploy.input_names) - set(self._engine.input_names)
        if missing:
            raise ValueError(f'the {engine} model in {self.deploy.folder} lacks the inputs '
                             f'{sorted(missing)} that deploy.yaml lists.')
        self.transforms = build_transforms(self.deploy.transforms, f'{self.deploy.folder}/{DEPLOY_FILE}')
        self.carry_state = carry_state
        self._state: Optional[List[np.ndarray]] = None
        self._last_outputs: List[np.ndarray] = []

    def _default_engine(self, precision: str) -> str:
        """The engine when none is named: the precision's own, else deploy.yaml's CPU choice."""
        if self.device != 'cpu':
            return PADDLE_INFERENCE
        if precision == 'int8':
            return ONNXRUNTIME
        if precision == 'bf16':
            usable = self.deploy.onnx_path and importlib.util.find_spec('openvino')
            return OPENVINO if usable else PADDLE_INFERENCE
        stored = self.deploy.cpu_engine or PADDLE_INFERENCE
        if stored != PADDLE_INFERENCE and importlib.util.find_spec(stored) is None:
            # a folder exported where that engine was installed, read where it is not
            logger.info('%s names %s as its CPU engine, which is not installed here; using '
                        '%s.', self.deploy.folder, stored, PADDLE_INFERENCE)
            return PADDLE_INFERENCE
        return stored

    @property
    def needs_trimap(self) -> bool:
        return self.deploy.needs_trimap

    @property
    def recurrent(self) -> bool:
        """Whether the exported model takes and returns a recurrent state (RVM)."""
        return bool(self.deploy.state_names)

    def start_clip(self) -> 'Predictor':
        """A predictor for the frames of one clip: for a recurrent model, one that carries the
        state from call to call starting from zero (sharing this one's engine); else ``self``."""
        if not self.recurrent:
            return self
        clip = copy.copy(self)
        clip.carry_state = True
        clip.reset()
        return clip

    def reset(self) -> None:
        """Forget the carried recurrent state: the next call starts a new clip."""
        self._state = None

    def _state_feeds(self, batch: int) -> Dict[str, np.ndarray]:
        state = self._state if self.carry_state else None
        if state is not None and state[0].shape[0] != batch:
            raise ValueError(f'the carried recurrent state has batch {state[0].shape[0]}, but img has '
                             f'batch {batch}; call reset() before a new clip.')
        if state is None:
            # zero [N, C, 1, 1] states broadcast inside the program: "no history"
            state = [np.zeros((batch, c, 1, 1), np.float32) for c in self.deploy.state_channels]
        return dict(zip(self.deploy.state_names, state))

    def outputs(self, img: np.ndarray, trimap: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
        """Run the bare model and return every output by name (``deploy.output_names``; for RVM
        alpha, fg, r1..r4). Same arguments and state handling as ``__call__``."""
        self(img, trimap)
        names = self.deploy.output_names or ['alpha']
        return dict(zip(names, self._last_outputs))

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
        if self.recurrent:
            feeds.update(self._state_feeds(img.shape[0]))
        outputs = self._engine.run(feeds)
        self._last_outputs = outputs
        if self.recurrent and self.carry_state:
            # a recurrent program returns its new state last, in state_names order
            self._state = outputs[len(outputs) - len(self.deploy.state_names):]
        return outputs[0]

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

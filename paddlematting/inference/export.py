"""Export a matting model to a static Paddle Inference folder (and optionally ONNX).

A folder holds ``model.json`` (PIR program; ``model.pdmodel`` under the old IR),
``model.pdiparams``, ``deploy.yaml`` and, with ``onnx=True``, ``model.onnx``.
Folders are written under a temporary name and renamed, so a reader never sees
half an export.
"""
import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from typing import List, Optional, Sequence

import paddle
import paddle.nn as nn
import yaml

from ..models.alpha_model import AlphaOnlyModel, RecurrentStepModel
from ..models.traits import INPUT_CHANNELS, model_traits
from ..config import Config
from ..utils.download import cache_home
from . import export_cache
from .deploy_config import DEPLOY_FILE, DeployConfig, default_inference_transforms, write_deploy_config
from .export_folder import check_export_dir, prepare_staging_dir, publish_export, write_export_marker

logger = logging.getLogger('paddlematting')

MODEL_STEM = 'model'
ONNX_FILE = 'model.onnx'
# bump when the exported layout changes, so cached exports are rebuilt
EXPORT_FORMAT_VERSION = '1'
CACHE_ENV = 'PADDLEMATTING_EXPORT_CACHE'


def _input_specs(input_names: Sequence[str], input_shape: Optional[Sequence[int]]):
    if input_shape is None:
        n, h, w = None, None, None
    else:
        if len(input_shape) != 4 or input_shape[1] != 3:
            raise ValueError(f'input_shape must be N 3 H W, got {list(input_shape)}.')
        n, _, h, w = input_shape
    return [paddle.static.InputSpec([n, INPUT_CHANNELS[name], h, w], 'float32', name)
            for name in input_names]


def _state_specs(model: nn.Layer) -> List[paddle.static.InputSpec]:
    """Inputs of a recurrent model's state: [N, C, h, w] each, any batch and size, so a zero
    [N or 1, C, 1, 1] (it broadcasts) can start a clip."""
    return [paddle.static.InputSpec([None, c, None, None], 'float32', name)
            for name, c in zip(model.state_names, model.state_channels)]


def _saved_program_file(folder: str) -> str:
    for name in (MODEL_STEM + '.json', MODEL_STEM + '.pdmodel'):
        if os.path.isfile(os.path.join(folder, name)):
            return name
    raise RuntimeError(f'paddle.jit.save wrote no {MODEL_STEM}.json or {MODEL_STEM}.pdmodel in {folder}.')


# run in a child process: paddle2onnx aborts the whole process on some ops (pool2d with
# uneven adaptive grids under dynamic shapes), which no try/except can catch
_ONNX_CONVERTER = """
import sys
import paddle2onnx
model, params, out, opset = sys.argv[1:5]
# optimize_tool 'None': the default ('polygraphy') would try to pip-install packages
data = paddle2onnx.export(model, params, save_file=None, opset_version=int(opset), optimize_tool='None')
with open(out, 'wb') as f:
    f.write(data)
"""


def export_onnx(config: DeployConfig, opset_version: int = 11) -> str:
    """Convert the folder's Paddle program to ONNX (``model.onnx`` beside it); return its path.

    Raises:
        ImportError: paddle2onnx is not installed.
        RuntimeError: paddle2onnx could not convert the program (its last output is quoted).
    """
    import importlib.util
    import subprocess
    import sys
    if importlib.util.find_spec('paddle2onnx') is None:
        raise ImportError('ONNX export needs paddle2onnx: `pip install -e .[onnx]`.')
    path = os.path.join(config.folder, ONNX_FILE)
    tmp = path + '.tmp'
    done = subprocess.run([sys.executable, '-c', _ONNX_CONVERTER, config.model_path,
                           config.params_path, tmp, str(opset_version)],
                          capture_output=True, text=True,
                          # one thread is plenty, and keeps paddle's thread notice out of errors
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    if done.returncode != 0 or not os.path.isfile(tmp):
        if os.path.exists(tmp):
            os.remove(tmp)
        tail = ' | '.join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f'paddle2onnx could not convert {config.model_path} (exit status '
                           f'{done.returncode}): {tail}')
    os.replace(tmp, path)
    config.onnx_file = ONNX_FILE
    return path


def onnx_export_available() -> bool:
    """Whether paddle2onnx and onnxruntime are installed (the ``onnx`` extra)."""
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ('paddle2onnx', 'onnxruntime'))


@dataclass
class ExportOptions:
    """How ``export_model`` exports; the names follow export.py's flags.

    Attributes:
        model_type: the model type written to deploy.yaml; defaults to the model's class name.
        input_shape: ``[N, 3, H, W]`` to fix the input size; default dynamic batch, height
            and width.
        onnx: also write ``model.onnx`` through paddle2onnx.
        replace: a folder holding a previous export (our marker, see ``export_folder``) gets
            its exported files replaced and keeps any other; False keeps an existing
            ``save_dir`` as it is (a concurrent process published the same export first).
        choose_engine: with ``onnx``, time Paddle Inference, ONNX Runtime and OpenVINO (those
            installed, whose outputs agree with the dygraph model) on this CPU and record the
            fastest as deploy.yaml's ``cpu_engine`` (``engine_choice``; recurrent models too).
        quantize: None, or 'int8' to also write model_int8.onnx (implies ``onnx``), calibrated
            on ``calib_images`` (image paths); see ``quantization``.
        calib_images: the calibration images of ``quantize``.
        onnx_optional: a failed ONNX conversion is logged and the export goes on without it
            (cached exports), instead of raising.
    """
    model_type: Optional[str] = None
    input_shape: Optional[Sequence[int]] = None
    onnx: bool = False
    replace: bool = True
    choose_engine: bool = True
    quantize: Optional[str] = None
    calib_images: Sequence[str] = ()
    onnx_optional: bool = False


def fixed_input_shape(transforms: Sequence[dict], input_shape: Optional[Sequence[int]],
                      model_type: str) -> List[Optional[int]]:
    """The ``[N, 3, H, W]`` a ``fixed_size`` model is traced at: ``input_shape`` when it
    gives H and W, else N dynamic and (H, W) of the transforms' ``Resize`` target_size.

    Raises:
        ValueError: neither gives a size (one line naming the flag to pass).
    """
    if input_shape is not None and input_shape[2] and input_shape[3]:
        return list(input_shape)
    sizes = [t.get('target_size') for t in transforms if t.get('type') == 'Resize']
    if not sizes or not isinstance(sizes[-1], (list, tuple)) or len(sizes[-1]) != 2:
        raise ValueError(f'{model_type} is exported at one input size, and its transforms have '
                         f'no Resize with a target_size: pass --input_shape N 3 H W.')
    w, h = (int(v) for v in sizes[-1])
    return [input_shape[0] if input_shape else None, 3, h, w]


def _save_program(model: nn.Layer, folder: str, transforms: Sequence[dict], model_type: str,
                  input_shape: Optional[Sequence[int]]) -> DeployConfig:
    """Trace ``model`` (in eval mode) into ``folder``; return the deploy.yaml contents."""
    traits = model_traits(model)
    if traits.fixed_size:
        input_shape = fixed_input_shape(transforms, input_shape, model_type)
    input_names = list(traits.input_names)
    model.eval()
    wrapper = RecurrentStepModel(model) if traits.recurrent else AlphaOnlyModel(model)
    wrapper.eval()
    input_spec = _input_specs(input_names, input_shape)
    if traits.recurrent:
        input_spec.append(_state_specs(model))
    paddle.jit.save(wrapper, os.path.join(folder, MODEL_STEM), input_spec=input_spec)
    config = DeployConfig(folder=folder, model_file=_saved_program_file(folder),
                          params_file=MODEL_STEM + '.pdiparams',
                          transforms=[dict(t) for t in transforms],
                          input_names=input_names, model_type=model_type)
    if traits.recurrent:
        config.state_names = list(model.state_names)
        config.state_channels = [int(c) for c in model.state_channels]
        config.output_names = list(model.export_output_names) + config.state_names
    return config


def dygraph_reference(model: nn.Layer):
    """``feeds -> outputs`` of ``model`` in dygraph, in the exported program's order (alpha;
    for a recurrent model alpha, other outputs, new states): what the engine choice checks
    each engine against."""
    import numpy as np
    traits = model_traits(model)
    wrapper = RecurrentStepModel(model) if traits.recurrent else AlphaOnlyModel(model)

    def run(feeds) -> List[np.ndarray]:
        tensors = {k: paddle.to_tensor(np.asarray(v, np.float32)) for k, v in feeds.items()}
        with paddle.no_grad():
            if traits.recurrent:
                outputs = wrapper(tensors['img'], [tensors[n] for n in model.state_names])
            else:
                outputs = [wrapper(tensors['img'], tensors.get('trimap'))]
        return [out.numpy() for out in outputs]
    return run


def _write_companions(config: DeployConfig, options: ExportOptions, model: nn.Layer) -> None:
    """ONNX (as asked), deploy.yaml, the INT8 model and the CPU engine choice, in the folder."""
    if options.onnx or options.quantize is not None:
        try:
            export_onnx(config)
        except RuntimeError as error:
            if not options.onnx_optional:
                raise
            logger.info('No ONNX model for %s (Paddle Inference only): %s', config.model_type,
                        error)
    write_deploy_config(config)
    if options.quantize == 'int8':
        from .quantization import quantize_int8
        quantize_int8(config.folder, options.calib_images)
    if config.onnx_file and options.choose_engine:
        from .engine_choice import choose_cpu_engine
        choose_cpu_engine(config.folder, reference=dygraph_reference(model))


def export_model(model: nn.Layer, save_dir: str, transforms: Sequence[dict],
                 options: Optional[ExportOptions] = None) -> str:
    """Save ``model`` (put in eval mode) as a static program with deploy.yaml into ``save_dir``.

    Args:
        model: a matting model taking ``{'img', ['trimap']}`` and returning alpha [N,1,H,W] in eval mode.
            The inputs exported are the ones the model declares (``input_names``). A recurrent
            model (``recurrent = True``, RVM) is saved as ``(img, [s_1..s_k]) -> (alpha, *other
            outputs, *new states)``: its state is explicit, and deploy.yaml lists
            ``state_names``/``state_channels``/``output_names``.
        save_dir: the folder to create. A folder holding a previous export (our marker,
            see ``export_folder``) gets its exported files replaced and keeps any other;
            any other non-empty folder is refused before the model is traced.
        transforms: the inference transforms as ``[{'type': name, **args}]`` (the val config's list).
        options: see ``ExportOptions`` (type name, input shape, ONNX, INT8, engine choice).
    Returns:
        ``save_dir``.
    """
    options = options or ExportOptions()
    if options.quantize not in (None, 'int8'):
        raise ValueError(f"quantize must be None or 'int8', got {options.quantize!r}.")
    model_type = options.model_type or type(model).__name__
    traits = model_traits(model)
    if not traits.exportable:
        raise ValueError(f'{model_type} declares exportable = False: it has no static program to save')
    # a foreign or unusable save_dir is refused before the (slow) tracing
    save_dir = check_export_dir(save_dir) if options.replace else os.path.abspath(save_dir)
    tmp_dir = prepare_staging_dir(os.path.dirname(save_dir))
    try:
        config = _save_program(model, tmp_dir, transforms, model_type, options.input_shape)
        _write_companions(config, options, model)
        write_export_marker(tmp_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    publish_export(tmp_dir, save_dir, replace=options.replace)
    return save_dir


def default_cache_dir() -> str:
    """``$PADDLEMATTING_EXPORT_CACHE``, else ``exports`` in the download cache home
    (``utils.download.cache_home()``: ``$PADDLEMATTING_HOME`` or ``~/.cache/paddlematting``)."""
    return os.environ.get(CACHE_ENV) or os.path.join(cache_home(), 'exports')


def config_inference_transforms(cfg: Config) -> List[dict]:
    """The transforms an export of ``cfg`` runs at inference: ``val_dataset.transforms`` as
    ``[{'type': name, **args}]``, or ``default_inference_transforms()`` when there is none."""
    return cfg.val_dataset_config.get('transforms') or default_inference_transforms()


def export_cache_key(model_config: dict, transforms: Sequence[dict], model_path: Optional[str]) -> str:
    """sha256 hex of what an export depends on: the checkpoint bytes, the model section of the
    config, the inference transforms and the Paddle version (not the training settings, so
    changing e.g. a dataset path does not force a new export)."""
    digest = hashlib.sha256()
    digest.update(f'format={EXPORT_FORMAT_VERSION};paddle={paddle.__version__};'.encode())
    described = {'model': model_config, 'transforms': list(transforms)}
    digest.update(yaml.safe_dump(described, sort_keys=True).encode('utf-8'))
    if model_path:
        with open(model_path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                digest.update(chunk)
    return digest.hexdigest()


def export_checkpoint_cached(cfg: Config, model_path: Optional[str], cache_dir: Optional[str] = None) -> str:
    """Export ``cfg``'s model with the weights in ``model_path`` once; later calls reuse it.

    Args:
        cfg: the run's config. Read from it: the model section (hashed into the cache key and
            built with ``builders.build_model``), ``cfg.val_dataset_config['transforms']`` (the
            inference transforms, see ``config_inference_transforms``) and ``cfg.path``.
        model_path: a local ``.pdparams`` checkpoint, or None for the weights the config itself
            loads (then only the config is hashed: a config without pretrained weights gives a
            random model, cached like any other).
        cache_dir: where exports live; default ``default_cache_dir()``.
    Returns:
        The exported folder ``<cache_dir>/<export_cache_key>``. With a ``model_path`` the
        config's ``pretrained`` keys are neither loaded (the checkpoint sets every weight)
        nor part of the key.
    """
    if model_path is not None and not os.path.isfile(model_path):
        raise FileNotFoundError(f'model_path {model_path} does not exist: expected a .pdparams checkpoint file.')
    # building and weight loading: only needed here, not by readers of exported folders
    from ..builders.model import build_model
    from ..utils.pretrained import without_pretrained

    model_config = cfg.model_config
    keyed_config = model_config if model_path is None else without_pretrained(model_config)
    transforms = config_inference_transforms(cfg)
    folder = os.path.join(cache_dir or default_cache_dir(), export_cache_key(keyed_config, transforms, model_path))
    if os.path.isfile(os.path.join(folder, DEPLOY_FILE)):
        export_cache.touch(folder)
        return folder
    with export_cache.announced_export(model_config['type'], folder):
        model = build_model(cfg, model_path)
        # replace=False: when a concurrent process published the same key first, keep its folder
        export_model(model, folder, transforms, ExportOptions(
            model_type=model_config['type'], replace=False, onnx=onnx_export_available(),
            onnx_optional=True))
    export_cache.touch(folder)
    removed = export_cache.prune(os.path.dirname(folder), keep=folder)
    if removed:
        logger.info('Export cache: removed %d least recently used export(s) to stay under $%s '
                    '(%d MB).', len(removed), export_cache.CACHE_LIMIT_ENV,
                    export_cache.cache_limit_bytes() >> 20)
    return folder

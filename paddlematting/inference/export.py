"""Export a matting model to a static Paddle Inference folder (and optionally ONNX).

A folder holds ``model.json`` (PIR program; ``model.pdmodel`` under the old IR),
``model.pdiparams``, ``deploy.yaml`` and, with ``onnx=True``, ``model.onnx``.
Folders are written under a temporary name and renamed, so a reader never sees
half an export.
"""
import hashlib
import os
import shutil
import tempfile
from typing import List, Optional, Sequence

import paddle
import paddle.nn as nn
import yaml

from ..models.alpha_model import AlphaOnlyModel
from ..models.traits import INPUT_CHANNELS, model_traits
from ..utils.config import Config
from ..utils.download import cache_home
from .deploy_config import DEPLOY_FILE, DeployConfig, default_inference_transforms, write_deploy_config

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


def _saved_program_file(folder: str) -> str:
    for name in (MODEL_STEM + '.json', MODEL_STEM + '.pdmodel'):
        if os.path.isfile(os.path.join(folder, name)):
            return name
    raise RuntimeError(f'paddle.jit.save wrote no {MODEL_STEM}.json or {MODEL_STEM}.pdmodel in {folder}.')


def export_onnx(config: DeployConfig, opset_version: int = 11) -> str:
    """Convert the folder's Paddle program to ONNX (``model.onnx`` beside it); return its path."""
    try:
        import paddle2onnx
    except ImportError as e:
        raise ImportError('ONNX export needs paddle2onnx: `pip install -e .[onnx]`.') from e
    try:
        # optimize_tool 'None': the default ('polygraphy') would try to pip-install packages
        onnx_bytes = paddle2onnx.export(config.model_path, config.params_path, save_file=None,
                                        opset_version=opset_version, optimize_tool='None')
    except NameError as e:
        # paddle2onnx logs the conversion error and then fails on its unset result
        raise RuntimeError(f'paddle2onnx could not convert {config.model_path} (see its log above).') from e
    path = os.path.join(config.folder, ONNX_FILE)
    with open(path, 'wb') as f:
        f.write(onnx_bytes)
    config.onnx_file = ONNX_FILE
    return path


def _is_previous_export(folder: str) -> bool:
    return not os.listdir(folder) or os.path.isfile(os.path.join(folder, DEPLOY_FILE))


def _publish(tmp_dir: str, save_dir: str, replace: bool) -> bool:
    """Rename the finished ``tmp_dir`` to ``save_dir``. Returns False when ``replace`` is
    False and ``save_dir`` already exists (another export won); ``tmp_dir`` is then removed."""
    if os.path.isdir(save_dir):
        if not replace:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            return False
        if not _is_previous_export(save_dir):
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise FileExistsError(f'{save_dir} exists and is not an export folder (no {DEPLOY_FILE}); '
                                  'choose an empty or new --save_dir.')
        old = tempfile.mkdtemp(prefix='.old-export-', dir=os.path.dirname(save_dir))
        os.rename(save_dir, os.path.join(old, 'previous'))
        os.rename(tmp_dir, save_dir)
        shutil.rmtree(old, ignore_errors=True)
        return True
    try:
        os.rename(tmp_dir, save_dir)
    except OSError:
        # a concurrent writer created save_dir between our check and the rename
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if replace:
            raise
        return False
    return True


def export_model(model: nn.Layer, save_dir: str, transforms: Sequence[dict],
                 model_type: Optional[str] = None, input_shape: Optional[Sequence[int]] = None,
                 onnx: bool = False, replace: bool = True) -> str:
    """Save ``model`` (put in eval mode) as a static program with deploy.yaml into ``save_dir``.

    Args:
        model: a matting model taking ``{'img', ['trimap']}`` and returning alpha [N,1,H,W] in eval mode.
        save_dir: the folder to create (replaced when it holds a previous export).
        transforms: the inference transforms as ``[{'type': name, **args}]`` (the val config's list).
        model_type: the model type written to deploy.yaml; defaults to the model's class name.
            The inputs exported are the ones the model declares (``input_names``).
        input_shape: ``[N, 3, H, W]`` to fix the input size; default dynamic batch, height and width.
        onnx: also write ``model.onnx`` through paddle2onnx.
    Returns:
        ``save_dir``.
    """
    model_type = model_type or type(model).__name__
    traits = model_traits(model)
    if not traits.exportable:
        raise ValueError(f'{model_type} declares exportable = False: it has no static program to save')
    input_names = list(traits.input_names)
    save_dir = os.path.abspath(save_dir)
    parent = os.path.dirname(save_dir)
    os.makedirs(parent, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix='.export-', dir=parent)
    try:
        model.eval()
        wrapper = AlphaOnlyModel(model)
        wrapper.eval()
        paddle.jit.save(wrapper, os.path.join(tmp_dir, MODEL_STEM),
                        input_spec=_input_specs(input_names, input_shape))
        config = DeployConfig(folder=tmp_dir, model_file=_saved_program_file(tmp_dir),
                              params_file=MODEL_STEM + '.pdiparams',
                              transforms=[dict(t) for t in transforms],
                              input_names=input_names, model_type=model_type)
        if onnx:
            export_onnx(config)
        write_deploy_config(config)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    _publish(tmp_dir, save_dir, replace=replace)
    return save_dir


def default_cache_dir() -> str:
    """``$PADDLEMATTING_EXPORT_CACHE``, else ``exports`` in the download cache home
    (``utils.download.cache_home()``: ``$PADDLEMATTING_HOME`` or ``~/.cache/paddlematting``)."""
    return os.environ.get(CACHE_ENV) or os.path.join(cache_home(), 'exports')


def config_inference_transforms(cfg: Config) -> List[dict]:
    """The transforms an export of ``cfg`` runs at inference: ``val_dataset.transforms`` as
    ``[{'type': name, **args}]``, or ``default_inference_transforms()`` when there is none."""
    return (cfg.val_dataset_config or {}).get('transforms') or default_inference_transforms()


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
        return folder
    model = build_model(cfg, model_path)
    # replace=False: when a concurrent process published the same key first, keep its folder
    export_model(model, folder, transforms, model_type=model_config['type'], replace=False)
    return folder

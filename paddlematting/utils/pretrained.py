"""Loading pretrained weights into a layer from a file, a folder or a URL.

Keys are compared with the layer's ``state_dict()`` before anything is set, so a
strict load that fails leaves the layer exactly as it was.
"""
import copy
import logging
import os
from typing import Any, Dict, List, NamedTuple, Tuple, Union

import numpy as np
import paddle

from .download import archive_suffix, cache_home, cached_download, is_url
from .torch_layout import declares_torch_layout, torch_state_to_paddle
from .weights_io import (WeightsFormatError, check_weights_member, load_state_dict,
                         weights_file_format)

# a child of the 'paddlematting' logger, which the command-line tools configure
logger = logging.getLogger(__name__)

WEIGHTS_FILE_NAME = 'model.pdparams'
SAFETENSORS_FILE_NAME = 'model.safetensors'
PRETRAINED_KEY = 'pretrained'
_NAMES_IN_WARNING = 5
_NAMES_IN_ERROR = 20


class ShapeMismatch(NamedTuple):
    """A key present in both the layer and the file, with different shapes."""
    key: str
    expected: Tuple[int, ...]
    found: Tuple[int, ...]

    def __str__(self) -> str:
        return f'{self.key} (layer {list(self.expected)}, file {list(self.found)})'


class WeightsMismatchError(ValueError):
    """A strict load found keys that do not match the layer."""


def _find_weights_in_folder(folder: str, origin: str) -> str:
    """The model.pdparams in ``folder`` or, failing that, the shallowest one below it."""
    direct = os.path.join(folder, WEIGHTS_FILE_NAME)
    if os.path.isfile(direct):
        return direct
    found = []
    for root, _dirs, files in os.walk(folder):
        if WEIGHTS_FILE_NAME in files:
            found.append(os.path.join(root, WEIGHTS_FILE_NAME))
    if not found:
        raise FileNotFoundError(f'{origin} holds no {WEIGHTS_FILE_NAME} (looked in {folder})')
    # archives usually wrap everything in one top folder; the shallowest file is the model
    found.sort(key=lambda p: (p.count(os.sep), p))
    return found[0]


def resolve_weights_path(path_or_url: Union[str, os.PathLike]) -> str:
    """The local .pdparams file that ``path_or_url`` points to, downloading it if needed.

    Accepts a .pdparams file, a folder holding ``model.pdparams``, an http(s) URL of a
    .pdparams file, or an http(s) URL of a .tar.gz/.tgz/.tar/.zip archive with
    ``model.pdparams`` somewhere inside (downloaded and unpacked once, see
    :func:`paddlematting.utils.download.cached_download`).

    Raises:
        FileNotFoundError: the local file or folder, or the model.pdparams inside it, is missing.
        paddlematting.utils.download.DownloadError: the URL could not be fetched.
    """
    path_or_url = os.fspath(path_or_url)
    if is_url(path_or_url):
        if archive_suffix(path_or_url):
            # kept only if every weights file inside loads
            folder = cached_download(path_or_url, extract=True, check=check_weights_member)
            return _find_weights_in_folder(folder, path_or_url)
        # a download enters the cache only if it loads as a state dict
        return cached_download(path_or_url, check=load_state_dict)
    path = os.path.expanduser(path_or_url)
    if os.path.isdir(path):
        for name in (WEIGHTS_FILE_NAME, SAFETENSORS_FILE_NAME):
            if os.path.isfile(os.path.join(path, name)):
                return os.path.join(path, name)
        raise FileNotFoundError(f'the folder {path} holds no {WEIGHTS_FILE_NAME} '
                                f'(or {SAFETENSORS_FILE_NAME})')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'the weights file {path} does not exist; expected a .pdparams '
                                f'file, a folder holding {WEIGHTS_FILE_NAME}, or an http(s) URL')
    return path


def _cache_entry(path: str) -> str:
    """The cache file or unpacked archive folder that ``path`` belongs to."""
    home = os.path.realpath(cache_home())
    real = os.path.realpath(path)
    if os.path.commonpath([home, real]) != home or real == home:
        return path
    return os.path.join(home, os.path.relpath(real, home).split(os.sep)[0])


def _read_state_dict(path: str) -> Dict[str, np.ndarray]:
    """The arrays of a weights file, read without running code (see ``weights_io``)."""
    # optimizer files carry non-array entries such as the LR scheduler's state
    return {key: value for key, value in load_state_dict(path).items()
            if isinstance(value, np.ndarray)}


def _name_list(names: List, limit: int) -> str:
    shown = ', '.join(str(n) for n in names[:limit])
    more = len(names) - limit
    return shown + (f', ... and {more} more' if more > 0 else '')


# a non-strict load refuses a file that sets fewer than this share of the layer's weights
MIN_FIT = 0.5


def read_weights_for(layer: paddle.nn.Layer, path: str, origin: str) -> Dict[str, np.ndarray]:
    """The arrays of the local weights file ``path`` under ``layer``'s own key names.

    A layer declaring ``weights_layout = 'torch'`` reads its published files (``.safetensors``,
    torch's ``.pth``) through :func:`utils.torch_layout.torch_state_to_paddle`; ``.pdparams``
    files are Paddle's layout for every layer. ``origin`` (the path or URL the user gave) names
    the cache entry to delete when a downloaded file went bad.
    """
    try:
        state = _read_state_dict(path)
    except WeightsFormatError as error:
        if not is_url(origin):
            raise
        # a cached file that went bad (or an archive's member): say what to delete
        raise WeightsFormatError(f'{error} It came from {origin}: delete '
                                 f'{_cache_entry(path)} to download it again.') from error
    if declares_torch_layout(layer) and weights_file_format(path) != 'paddle':
        state = torch_state_to_paddle(state, layer)
    return state


def compare_keys(layer_state: Dict[str, Any], file_state: Dict[str, np.ndarray]
                 ) -> Tuple[Dict[str, list], List[str]]:
    """``({'missing', 'unexpected', 'mismatched'} lists, keys that fit)`` of a layer and a file."""
    missing, mismatched, matching = [], [], []
    for key, tensor in layer_state.items():
        if key not in file_state:
            missing.append(key)
            continue
        expected = tuple(tensor.shape)
        found = tuple(file_state[key].shape)
        if expected != found:
            mismatched.append(ShapeMismatch(key, expected, found))
        else:
            matching.append(key)
    unexpected = [key for key in file_state if key not in layer_state]
    return {'missing': missing, 'unexpected': unexpected, 'mismatched': mismatched}, matching


def _check_fit(report: Dict[str, list], matching: List[str], total: int, strict: bool,
               layer_name: str, origin: str) -> None:
    """Raise (strict, or too few keys fit) or warn about the keys that differ."""
    if not any(report.values()):
        return
    if strict:
        parts = [f'{len(v)} {k}: {_name_list(v, _NAMES_IN_ERROR)}' for k, v in report.items() if v]
        raise WeightsMismatchError(f'{origin} does not match the {layer_name} layer ('
                                   + '; '.join(parts) + '); nothing was loaded')
    if len(matching) < MIN_FIT * total:
        raise WeightsMismatchError(
            f'{origin} fits only {len(matching)} of the {total} weights of {layer_name}: it is '
            f'the file of another network. Point "pretrained" at a file made for {layer_name}, '
            f'or set it to null to train from scratch; nothing was loaded')
    parts = [f'{len(v)} {k} ({_name_list(v, _NAMES_IN_WARNING)})' for k, v in report.items() if v]
    logger.warning(f'{origin} loaded partially into {layer_name}: ' + '; '.join(parts))


def load_pretrained_weights(layer: paddle.nn.Layer, path_or_url: Union[str, os.PathLike],
                            strict: bool = False) -> Dict[str, list]:
    """Copy the weights in ``path_or_url`` into ``layer``, key by key.

    Args:
        layer: any paddle layer; its ``state_dict()`` names are matched with the file's
            (after the torch-layout conversion for layers that declare it, see
            :func:`read_weights_for`).
        path_or_url: a .pdparams/.safetensors file, a folder holding model.pdparams, or an
            http(s) URL of either a weights file or an archive containing model.pdparams.
        strict: raise instead of warning when any key is missing, unexpected or mis-shaped.
            A non-strict load still refuses a file that fits fewer than half of the layer's
            keys (``MIN_FIT``): that is another network's file, and training from it would
            silently start from random weights.
    Returns:
        ``{'missing': [layer keys absent from the file], 'unexpected': [file keys the layer
        lacks], 'mismatched': [ShapeMismatch(key, expected shape, file shape), ...]}``.
        Every other key of the layer has been set from the file (cast to the layer's dtype).
    Raises:
        FileNotFoundError: a local path does not exist.
        WeightsMismatchError: ``strict`` and the keys differ, or fewer than ``MIN_FIT`` of the
            layer's keys fit; the layer is left unchanged.
        ValueError: the file is not a weights file.
    """
    origin = os.fspath(path_or_url)
    path = resolve_weights_path(origin)
    file_state = read_weights_for(layer, path, origin)
    layer_state = layer.state_dict()
    report, matching = compare_keys(layer_state, file_state)
    _check_fit(report, matching, len(layer_state), strict, type(layer).__name__, origin)
    for key in matching:
        target = layer_state[key]
        target.set_value(file_state[key].astype(target.numpy().dtype, copy=False))
    logger.info(f'Loaded {len(matching)} of {len(layer_state)} tensors of '
                f'{type(layer).__name__} from {path}')
    return report


def pretrained_key_paths(section: Any, prefix: str = 'model') -> List[str]:
    """Dotted paths (``model.backbone.pretrained``) of every non-null ``pretrained`` key.

    Args:
        section: a config mapping (e.g. the ``model`` section); nested mappings are searched,
            lists are not (``--opts`` cannot address list items).
        prefix: the dotted path of ``section`` itself.
    Returns:
        The paths in the mapping's order, ready to be set with ``--opts PATH=null``.
    """
    if not isinstance(section, dict):
        return []
    paths = []
    for key, value in section.items():
        path = f'{prefix}.{key}'
        if key == PRETRAINED_KEY and value is not None:
            paths.append(path)
        elif isinstance(value, dict):
            paths += pretrained_key_paths(value, path)
    return paths


def without_pretrained(section: Any) -> Any:
    """A deep copy of a config section with every ``pretrained`` key (at any depth) set to None.

    Used when a whole-model checkpoint is loaded right after building: the checkpoint sets
    every weight, so the section's pretrained files (often URLs) need not be fetched.
    """
    if isinstance(section, dict):
        return {key: None if key == PRETRAINED_KEY else without_pretrained(value)
                for key, value in section.items()}
    if isinstance(section, list):
        return [without_pretrained(value) for value in section]
    return copy.deepcopy(section)

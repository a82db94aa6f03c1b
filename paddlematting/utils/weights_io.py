"""Reading weight files without running code from them.

``paddle.load`` unpickles, and unpickling runs whatever callable a file names: a crafted
``.pdparams`` could start a shell. This module is the one place the toolkit reads
``.pdparams`` / ``.pdopt`` (and ``.safetensors``) files, in the spirit of
``torch.load(weights_only=True)``:

- A restricted unpickler builds only plain data: dicts, lists, tuples, sets, numbers,
  strings, bytes, booleans, None, and numpy arrays/scalars of non-object dtype. The only
  globals it resolves are the ones ``paddle.save`` (2.x and 3.x, numpy 1 and 2) writes for
  those: numpy's ``_reconstruct``, ``ndarray``, ``dtype`` and ``scalar``,
  ``collections.OrderedDict``, ``builtins.tuple`` (how Paddle pickles a tensor outside a
  state dict: ``(name, array)``) and a checked stand-in for ``builtins.eval`` (how it pickles
  a static-graph DenseTensor: ``eval('data', {'data': array})``). Any other global is refused
  before it is called, with one line naming the file and the global.
- ``.safetensors`` files carry no code by design and are read with the safetensors package.

What comes back is what ``paddle.load(path, return_numpy=True)`` returns: tensors as numpy
arrays, Paddle's name table (``StructuredToParameterName@@``) removed and parameters it
split for old pickle protocols (``UnpackBigParamInfor@@``) joined again. Paddle itself is
not imported.
"""
import collections
import io
import os
import pickle
import zipfile
from typing import Any, Dict

import numpy as np

__all__ = ['UnsafeWeightsError', 'WeightsFormatError', 'load_weights_file', 'load_state_dict',
           'is_safetensors_file', 'weights_file_format', 'ALLOWED_GLOBALS']

_NAME_TABLE_KEY = 'StructuredToParameterName@@'
_BIG_PARAM_KEY = 'UnpackBigParamInfor@@'  # Paddle's own spelling
_SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024


class WeightsFormatError(ValueError):
    """The file is not a readable weights file (truncated, foreign format, wrong structure)."""


class UnsafeWeightsError(WeightsFormatError):
    """The file asks to run code (a pickle global outside the allowed set)."""


class _RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, module: str, name: str) -> None:
        super().__init__(f'{module}.{name}')
        self.global_name = f'{module}.{name}'


def _numpy_attr(*paths: str) -> Any:
    """The first of ``module:name`` paths that exists (numpy 2 moved ``numpy.core``)."""
    for path in paths:
        module_name, name = path.split(':')
        try:
            module = __import__(module_name, fromlist=[name])
            return getattr(module, name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f'none of {paths} exists in this numpy')


_reconstruct = _numpy_attr('numpy._core.multiarray:_reconstruct', 'numpy.core.multiarray:_reconstruct')
_numpy_scalar = _numpy_attr('numpy._core.multiarray:scalar', 'numpy.core.multiarray:scalar')


def _checked_scalar(dtype: Any, *args: Any) -> Any:
    """numpy's scalar constructor, refusing object dtype (whose payload is arbitrary)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise _RefusedGlobal('numpy', 'scalar (of object dtype)')
    return _numpy_scalar(dtype, *args)


def _checked_dense_tensor_eval(source: Any, namespace: Any = None, *rest: Any) -> np.ndarray:
    """Stand-in for the ``eval('data', {'data': array})`` Paddle writes for a DenseTensor:
    accepts exactly that form and returns the array; never evaluates anything."""
    if (source == 'data' and not rest and isinstance(namespace, dict)
            and set(namespace) == {'data'} and isinstance(namespace['data'], np.ndarray)):
        return namespace['data']
    raise _RefusedGlobal('builtins', 'eval')


def _checked_codecs_encode(text: Any, encoding: Any = 'utf-8', *rest: Any) -> bytes:
    """Stand-in for ``_codecs.encode``, which pickle protocol 2 uses to write bytes
    (``encode(str, 'latin1')``): only that form is accepted."""
    if isinstance(text, str) and encoding in ('latin1', 'latin-1') and not rest:
        return text.encode('latin1')
    raise _RefusedGlobal('_codecs', 'encode')


# (module, name) -> the object the restricted unpickler returns for it
ALLOWED_GLOBALS: Dict[tuple, Any] = {
    ('numpy._core.multiarray', '_reconstruct'): _reconstruct,
    ('numpy.core.multiarray', '_reconstruct'): _reconstruct,
    ('numpy._core.multiarray', 'scalar'): _checked_scalar,
    ('numpy.core.multiarray', 'scalar'): _checked_scalar,
    ('numpy', 'ndarray'): np.ndarray,
    ('numpy', 'dtype'): np.dtype,
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('builtins', 'tuple'): tuple,
    ('__builtin__', 'tuple'): tuple,
    ('builtins', 'eval'): _checked_dense_tensor_eval,
    ('_codecs', 'encode'): _checked_codecs_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose globals are limited to ``ALLOWED_GLOBALS`` and which has no
    persistent ids (``persistent_load`` is left undefined, so any is refused)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _RefusedGlobal(module, name) from None


def is_safetensors_file(path: str) -> bool:
    """True when ``path`` starts like a safetensors file (8-byte header length, then '{')."""
    with open(path, 'rb') as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b'{':
        return False
    header_length = int.from_bytes(head[:8], 'little')
    return 0 < header_length <= min(_SAFETENSORS_MAX_HEADER, os.path.getsize(path) - 8)


def _load_safetensors(path: str) -> Dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file
    except ImportError as e:
        raise WeightsFormatError(f'{path}: reading .safetensors files needs the safetensors '
                                 f'package (pip install safetensors).') from e
    try:
        return dict(load_file(path))
    except Exception as e:  # safetensors raises its own SafetensorError and others
        raise WeightsFormatError(f'{path}: not a readable .safetensors file ({e}).') from e


def _from_paddle_tuple(value: Any) -> Any:
    """Paddle pickles a tensor outside a state dict as ``(name, array)``: keep the array."""
    if (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], np.ndarray)):
        return value[1]
    if isinstance(value, dict):
        return type(value)((k, _from_paddle_tuple(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_from_paddle_tuple(v) for v in value]
    return value


def _check_plain(value: Any, path: str) -> None:
    """Refuse object arrays anywhere in the loaded structure."""
    if isinstance(value, np.ndarray) and value.dtype.hasobject:
        raise UnsafeWeightsError(f'{path}: refused to load: it holds a numpy array of Python '
                                 f'objects, which a weights file never needs.')
    if isinstance(value, dict):
        for item in value.values():
            _check_plain(item, path)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check_plain(item, path)


def _join_big_params(state: dict) -> dict:
    """Undo Paddle's split of huge arrays (pickle protocols 2-3) as ``paddle.load`` does."""
    info = state.pop(_BIG_PARAM_KEY, None)
    if not isinstance(info, dict):
        return state
    for key, value in info.items():
        parts = [state.pop(part) for part in value['slices']]
        state[key] = np.concatenate(parts).reshape(value['OriginShape'])
    return state


def _load_pickle(path: str) -> Any:
    with open(path, 'rb') as f:
        data = f.read()
    try:
        # latin1: numpy arrays pickled by Python 2 carry their bytes as str
        loaded = _RestrictedUnpickler(io.BytesIO(data), encoding='latin1').load()
    except _RefusedGlobal as e:
        raise UnsafeWeightsError(
            f'{path}: refused to load: the file asks to call the Python global '
            f'{e.global_name!r}, and weights files may only hold dicts, lists, numbers, '
            f'strings and arrays (it may have been crafted to run code; use a file from a '
            f'source you trust).') from None
    except Exception as e:  # truncated or foreign files raise many types
        raise WeightsFormatError(f'{path}: not a readable Paddle weights file '
                                 f'({type(e).__name__}: {e}).') from None
    _check_plain(loaded, path)
    loaded = _from_paddle_tuple(loaded)
    if isinstance(loaded, dict):
        loaded = _join_big_params(dict(loaded))
        loaded.pop(_NAME_TABLE_KEY, None)
    return loaded


def weights_file_format(path: str) -> str:
    """Which format ``path`` is in, by its first bytes: ``'safetensors'``, ``'torch'`` (the
    zip archive ``torch.save`` writes, usually ``.pth``/``.pt``/``.bin``) or ``'paddle'`` (a
    pickle, as ``paddle.save`` writes ``.pdparams``/``.pdopt``)."""
    if str(path).endswith('.safetensors') or is_safetensors_file(path):
        return 'safetensors'
    if zipfile.is_zipfile(path):
        return 'torch'
    return 'paddle'


def load_weights_file(path: str) -> Any:
    """The contents of a ``.pdparams``/``.pdopt``/``.safetensors`` file, without running code.

    Args:
        path: a local file written by ``paddle.save`` (any pickle protocol) or safetensors.
    Returns:
        What ``paddle.load(path, return_numpy=True)`` would return: usually a dict of
        name -> numpy array (plus plain data such as an optimizer's ``LR_Scheduler`` dict).
    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeWeightsError: the file names a pickle global that is not plain data (nothing
            from the file has been called).
        WeightsFormatError: the file is truncated or in another format.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: weights file does not exist.')
    file_format = weights_file_format(path)
    if file_format == 'safetensors':
        return _load_safetensors(path)
    if file_format == 'torch':
        raise WeightsFormatError(f'{path}: a PyTorch zip checkpoint; reading those is not '
                                 f'supported yet: convert it to .safetensors.')
    return _load_pickle(path)


def load_state_dict(path: str) -> Dict[str, Any]:
    """``load_weights_file`` for files that must hold a dict (state dicts, optimizer states).

    Raises:
        WeightsFormatError: the file holds something other than a dict (named in the message).
    """
    loaded = load_weights_file(path)
    if not isinstance(loaded, dict):
        raise WeightsFormatError(f'{path} holds a {type(loaded).__name__}, expected a dict of '
                                 f'parameter name -> array (a .pdparams state dict).')
    return loaded

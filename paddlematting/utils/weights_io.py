"""Reading weight files without running code from them, at a cost bounded by their size.

``paddle.load`` and ``torch.load`` unpickle, and unpickling runs whatever callable a file
names, or (through numpy's dtype state) reads memory it should not: a crafted ``.pdparams``
could start a shell or crash the process. This module is the one place the toolkit reads
weights: ``.pdparams`` / ``.pdopt`` (``paddle.save``, pickle protocols 0-5), PyTorch's zip
checkpoints (``.pth``/``.pt``/``.bin`` from ``torch.save`` 1.6+) and ``.safetensors``:

- Pickles go through ``safe_pickle``, a pickle machine of our own that builds plain data
  only (dicts, lists, tuples, sets, numbers, strings, bytes, None) and calls only checked
  stand-ins for the globals these formats use (``numpy_pickle`` for Paddle's numpy arrays,
  ``torch_checkpoint`` for torch's tensors): arrays of whitelisted plain dtypes, each a view
  of bytes from the file whose shape, offset and strides are checked (``array_specs``).
  Any other global, opcode or dtype is refused before anything is called.
- The cost is bounded (``safe_pickle.ReadLimits``): objects (shared references counted each
  time they are used), nesting depth, and decoded bytes tied to the file's size.
- ``.safetensors`` files carry no code by design and are read with the safetensors package.

Every refusal is one line naming the file and what was wrong. What comes back is what
``paddle.load(path, return_numpy=True)`` returns: tensors as numpy arrays, Paddle's name table
(``StructuredToParameterName@@``) removed and parameters it split for old pickle protocols
(``UnpackBigParamInfor@@``) joined again. Neither paddle nor torch is imported.
"""
import math
import os
import re
import zipfile
from typing import Any, Dict

import numpy as np

from .numpy_pickle import paddle_rules
from .safe_pickle import DEFAULT_LIMITS, Budget, Buildable, FileBytes, ReadLimits, read_pickle
from .torch_checkpoint import load_torch_checkpoint
from .weights_errors import UnsafeWeightsError, WeightsFormatError, WeightsLimitError, short_repr

__all__ = ['UnsafeWeightsError', 'WeightsFormatError', 'WeightsLimitError', 'ReadLimits',
           'DEFAULT_LIMITS', 'load_weights_file', 'load_state_dict', 'is_safetensors_file',
           'weights_file_format', 'check_weights_member', 'WEIGHTS_SUFFIXES']

_NAME_TABLE_KEY = 'StructuredToParameterName@@'
_BIG_PARAM_KEY = 'UnpackBigParamInfor@@'  # Paddle's own spelling
_SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024
# torch.save(..., _use_new_zipfile_serialization=False) starts with this pickled magic number
_TORCH_LEGACY_MAGIC = b'\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19'
# Paddle names an optimizer's accumulators <parameter>_<accumulator>_<n>
_ACCUMULATOR_KEY = re.compile(r'_\d+$')
OPTIMIZER_SUFFIX = '.pdopt'
# the files of an archive that check_weights_member reads
WEIGHTS_SUFFIXES = ('.pdparams', '.pdopt', '.safetensors', '.pth', '.pt')


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


class _Finisher:
    """One walk over an unpickled structure: long byte strings (``FileBytes``) become
    bytes, Paddle's ``(name, array)`` tensors become arrays, and stand-ins that never got
    their ``BUILD`` are refused. Shared tuples are converted once (the walk is linear)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.done: Dict[int, Any] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, FileBytes):
            return value.tobytes()
        if isinstance(value, (np.ndarray, np.generic, str, bytes, int, float, complex,
                              type(None), bytearray)):
            return value
        key = id(value)
        if key not in self.done:
            self.done[key] = self._convert(value)
        return self.done[key]

    def _convert(self, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = self(item)
            return value
        if isinstance(value, list):
            value[:] = [self(item) for item in value]
            return value
        if isinstance(value, tuple):
            # Paddle pickles a tensor outside a state dict as (name, array): keep the array
            if len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], np.ndarray):
                return value[1]
            return tuple(self(item) for item in value)
        if isinstance(value, (set, frozenset)):
            return value  # members are hashable: numbers, strings, bytes, tuples of them
        what = 'a numpy array or dtype that was never filled in' if isinstance(
            value, Buildable) else f'a {type(value).__name__}'
        raise UnsafeWeightsError(f'{self.path}: refused to load: it holds {what}, which is '
                                 f'not plain data.')


def _join_big_params(state: dict, path: str, budget: Budget) -> dict:
    """Undo Paddle's split of huge arrays (pickle protocols 2-3) as ``paddle.load`` does,
    checking that the listed 1-D parts exist, share a dtype and make up the shape exactly."""
    info = state.pop(_BIG_PARAM_KEY, None)
    if info is None:
        return state
    if not isinstance(info, dict):
        raise WeightsFormatError(f'{path}: not a readable Paddle weights file ({_BIG_PARAM_KEY} '
                                 f'is a {type(info).__name__}, not a dict).')
    for key, value in info.items():
        slices = value.get('slices') if isinstance(value, dict) else None
        shape = value.get('OriginShape') if isinstance(value, dict) else None
        if (not isinstance(slices, list) or not isinstance(shape, (list, tuple))
                or not all(isinstance(name, str) for name in slices)
                or len(set(slices)) != len(slices)):
            raise WeightsFormatError(f'{path}: not a readable Paddle weights file (the split '
                                     f'parameter {short_repr(key)} has no list of slices).')
        parts = [state.pop(name, None) for name in slices]
        state[key] = _joined(parts, shape, key, path, budget)
    return state


def _joined(parts: list, shape: Any, key: Any, path: str, budget: Budget) -> np.ndarray:
    """The parts of one split parameter, concatenated and reshaped to ``shape``."""
    if not parts or not all(isinstance(p, np.ndarray) and p.ndim == 1 for p in parts):
        raise WeightsFormatError(f'{path}: not a readable Paddle weights file (a slice of the '
                                 f'split parameter {short_repr(key)} is missing or not 1-D).')
    if not all(type(n) is int and n >= 0 for n in shape) or len({p.dtype for p in parts}) != 1:
        raise UnsafeWeightsError(f'{path}: refused to load: the split parameter '
                                 f'{short_repr(key)} has mixed dtypes or the shape {short_repr(shape)}.')
    total = sum(p.size for p in parts)
    if total != math.prod(shape):
        raise UnsafeWeightsError(f'{path}: refused to load: the slices of {short_repr(key)} hold '
                                 f'{total} elements, but its shape {list(shape)} needs '
                                 f'{math.prod(shape)}.')
    budget.add_bytes(total * parts[0].itemsize, f'joining the split parameter {short_repr(key)}')
    return np.concatenate(parts).reshape(shape)


def _load_pickle(path: str, limits: ReadLimits, size: int) -> Any:
    budget = Budget(limits, size, path)
    with open(path, 'rb') as stream:
        loaded = read_pickle(stream, size, paddle_rules(budget), budget)
    loaded = _Finisher(path)(loaded)
    if isinstance(loaded, dict):
        loaded = _join_big_params(dict(loaded), path, budget)
        loaded.pop(_NAME_TABLE_KEY, None)
    return loaded


def weights_file_format(path: str) -> str:
    """Which format ``path`` is in, by its first bytes: ``'safetensors'``, ``'torch'`` (the
    zip archive ``torch.save`` writes, usually ``.pth``/``.pt``/``.bin``), ``'torch_legacy'``
    (``torch.save`` before 1.6 or with ``_use_new_zipfile_serialization=False``) or
    ``'paddle'`` (a pickle, as ``paddle.save`` writes ``.pdparams``/``.pdopt``)."""
    if str(path).endswith('.safetensors') or is_safetensors_file(path):
        return 'safetensors'
    if zipfile.is_zipfile(path):
        return 'torch'
    with open(path, 'rb') as f:
        if f.read(len(_TORCH_LEGACY_MAGIC)) == _TORCH_LEGACY_MAGIC:
            return 'torch_legacy'
    return 'paddle'


def load_weights_file(path: str, limits: ReadLimits = DEFAULT_LIMITS) -> Any:
    """The contents of a weights file, without running code and within ``limits``.

    Args:
        path: a local ``.pdparams``/``.pdopt`` (``paddle.save``, any pickle protocol), a torch
            zip checkpoint (``torch.save``) or a ``.safetensors`` file.
        limits: what reading may cost (see ``safe_pickle.ReadLimits``; the defaults fit every
            published weights file).
    Returns:
        What ``paddle.load(path, return_numpy=True)`` (or ``torch.load`` with numpy tensors)
        would return: usually a dict of name -> numpy array (plus plain data such as an
        optimizer's ``LR_Scheduler`` dict). Arrays are of plain numeric or bool dtypes in
        native byte order (torch's bfloat16 widened to float32).
    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeWeightsError: the file asks for a global, dtype or view a weights file never
            needs (nothing from the file has been called).
        WeightsLimitError: reading it would cost more than ``limits`` allow.
        WeightsFormatError: the file is truncated or in another format.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: weights file does not exist.')
    file_format = weights_file_format(path)
    if file_format == 'safetensors':
        return _load_safetensors(path)
    size = os.path.getsize(path)
    if file_format == 'torch':
        return _Finisher(path)(load_torch_checkpoint(path, limits, size))
    if file_format == 'torch_legacy':
        raise WeightsFormatError(
            f'{path}: a PyTorch checkpoint in the legacy format (torch.save before 1.6 or with '
            f'_use_new_zipfile_serialization=False), which is not read; load it once in torch '
            f'and save it again with torch.save (zip format) or as .safetensors.')
    return _load_pickle(path, limits, size)


def _check_optimizer_state(path: str, state: Dict[str, Any]) -> None:
    """Refuse a model state dict saved under an optimizer file's name (``.pdopt``): it has
    arrays, and none of their keys is an accumulator's (``conv2d_0.w_0_velocity_0``)."""
    arrays = [key for key, value in state.items() if isinstance(value, np.ndarray)]
    if not arrays or any(_ACCUMULATOR_KEY.search(str(key)) for key in arrays):
        return
    raise WeightsFormatError(
        f'{path}: holds a model state dict (keys such as {short_repr(arrays[0]) if arrays else "none"}), '
        f'not an optimizer state: a {OPTIMIZER_SUFFIX} file is what optimizer.state_dict() '
        f'saves (was model.pdparams copied over it?).')


def load_state_dict(path: str, limits: ReadLimits = DEFAULT_LIMITS) -> Dict[str, Any]:
    """``load_weights_file`` for files that must hold a dict (state dicts, optimizer states).

    A ``.pdopt`` file must hold an optimizer state: a model state dict (arrays none of whose
    keys is an accumulator's ``<param>_<name>_<n>``) is refused.
    Raises:
        WeightsFormatError: the file holds something other than a dict, or a model state dict
            as ``.pdopt`` (named in the message).
    """
    path = os.fspath(path)
    loaded = load_weights_file(path, limits)
    if not isinstance(loaded, dict):
        raise WeightsFormatError(f'{path} holds a {type(loaded).__name__}, expected a dict of '
                                 f'parameter name -> array (a .pdparams state dict).')
    if path.endswith(OPTIMIZER_SUFFIX):
        _check_optimizer_state(path, loaded)
    return loaded


def check_weights_member(path: str) -> None:
    """Read ``path`` as a weights file when its name says it is one (``WEIGHTS_SUFFIXES``),
    so that a downloaded archive is kept only if each of its weights files loads; others
    (configs, notes, Paddle Inference files) are left to whoever reads them.

    Raises:
        WeightsFormatError: the file is not a readable, safe weights file.
    """
    if os.fspath(path).lower().endswith(WEIGHTS_SUFFIXES):
        load_weights_file(path)

"""Writing PyTorch's zip checkpoint format (``torch.save`` since 1.6) from numpy, without torch.

Tests use it to make ``.pth`` files (published weights in torch's layout, crafted files). The
layout is torch's own: a zip of stored (uncompressed) members ``<name>/data.pkl``,
``<name>/byteorder``, ``<name>/version`` and one ``<name>/data/<key>`` per storage; the pickle
(protocol 2) is written opcode by opcode, since pickling torch's globals by name would need
torch. ``tests/data/torch_pth/make_fixtures.py`` checks with real torch that ``torch.load``
reads these files back exactly.

    save_pth(path, {'conv.weight': np.ones((4, 3, 3, 3), np.float32)})
    save_pth(path, {'w': Tensor(storage, offset=0, size=(3, 2), stride=(1, 3))})  # a view
"""
import pickle
import struct
import zipfile
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

import numpy as np

__all__ = ['Tensor', 'Parameter', 'BFloat16', 'save_pth', 'to_bfloat16_bits', 'pickle_int',
           'pickle_str', 'pickle_global', 'pickle_tuple']

# numpy dtype -> torch storage class name
_STORAGE_NAMES = {'float32': 'FloatStorage', 'float64': 'DoubleStorage', 'float16': 'HalfStorage',
                  'int64': 'LongStorage', 'int32': 'IntStorage', 'int16': 'ShortStorage',
                  'int8': 'CharStorage', 'uint8': 'ByteStorage', 'bool': 'BoolStorage'}


class Tensor(NamedTuple):
    """A tensor as torch pickles it: a view (element offset, sizes, element strides) of a 1-D
    storage array. Two Tensors with the same ``storage`` object share one storage member."""
    storage: np.ndarray
    offset: int
    size: Tuple[int, ...]
    stride: Tuple[int, ...]


class Parameter(NamedTuple):
    """An ``nn.Parameter`` wrapping ``data`` (an array, Tensor or BFloat16)."""
    data: Any


class BFloat16(NamedTuple):
    """A bfloat16 tensor given by its float32 values (rounded to bfloat16 when written)."""
    values: np.ndarray


def to_bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> the uint16 bits of the nearest bfloat16 (round half to even)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def pickle_int(value: int) -> bytes:
    """The shortest opcode pushing ``value``."""
    if 0 <= value < 256:
        return pickle.BININT1 + bytes([value])
    if -2 ** 31 <= value < 2 ** 31:
        return pickle.BININT + struct.pack('<i', value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, 'little', signed=True)
    return pickle.LONG1 + bytes([len(raw)]) + raw


def pickle_str(text: str) -> bytes:
    raw = text.encode('utf-8')
    return pickle.BINUNICODE + struct.pack('<I', len(raw)) + raw


def pickle_global(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f'{module}\n{name}\n'.encode('ascii')


def pickle_tuple(*items: bytes) -> bytes:
    return pickle.MARK + b''.join(items) + pickle.TUPLE


_EMPTY_ORDERED_DICT = pickle_global('collections', 'OrderedDict') + pickle.EMPTY_TUPLE + pickle.REDUCE


class _Writer:
    """Collects the storages while the pickle is written."""

    def __init__(self) -> None:
        self.storages: List[Tuple[str, bytes]] = []
        # id -> (key, array): the array is kept so that its id is not reused by another
        self.keys: Dict[int, Tuple[str, np.ndarray]] = {}

    def storage(self, array: np.ndarray, storage_name: str) -> bytes:
        """The persistent id of ``array``'s storage (written once per array object)."""
        key = self.keys.get(id(array), (None,))[0]
        if key is None:
            key = str(len(self.storages))
            self.keys[id(array)] = (key, array)
            self.storages.append((key, np.ascontiguousarray(array).tobytes()))
        pid = pickle_tuple(pickle_str('storage'), pickle_global('torch', storage_name),
                           pickle_str(key), pickle_str('cpu'), pickle_int(array.size))
        return pid + pickle.BINPERSID

    def tensor(self, value: Any) -> bytes:
        if isinstance(value, Parameter):
            return (pickle_global('torch._utils', '_rebuild_parameter')
                    + pickle_tuple(self.tensor(value.data), pickle.NEWTRUE, _EMPTY_ORDERED_DICT)
                    + pickle.REDUCE)
        if isinstance(value, BFloat16):
            values = np.asarray(value.values, np.float32)
            bits = to_bfloat16_bits(values).reshape(-1)
            value = Tensor(bits, 0, values.shape, _contiguous_strides(values.shape))
            storage_name = 'BFloat16Storage'
        elif isinstance(value, np.ndarray):
            flat = np.ascontiguousarray(value).reshape(-1)
            storage_name = _STORAGE_NAMES[value.dtype.name]
            value = Tensor(flat, 0, value.shape, _contiguous_strides(value.shape))
        else:
            storage_name = _STORAGE_NAMES[value.storage.dtype.name]
        args = pickle_tuple(self.storage(value.storage, storage_name), pickle_int(value.offset),
                            pickle_tuple(*[pickle_int(n) for n in value.size]),
                            pickle_tuple(*[pickle_int(s) for s in value.stride]),
                            pickle.NEWFALSE, _EMPTY_ORDERED_DICT)
        return pickle_global('torch._utils', '_rebuild_tensor_v2') + args + pickle.REDUCE

    def value(self, value: Any) -> bytes:
        if isinstance(value, Mapping):
            items = b''.join(pickle_str(k) + self.value(v) for k, v in value.items())
            return _EMPTY_ORDERED_DICT + pickle.MARK + items + pickle.SETITEMS
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return pickle_int(int(value))
        return self.tensor(value)


def _contiguous_strides(shape: Tuple[int, ...]) -> Tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def save_pth(path: str, state: Mapping[str, Any], name: str = 'archive',
             pickle_bytes: Optional[bytes] = None) -> str:
    """Write ``state`` (name -> numpy array / Tensor / Parameter / BFloat16 / nested mapping /
    int) as ``torch.save`` would; return ``path``.

    Args:
        name: the archive's top folder (torch uses the file's stem).
        pickle_bytes: write this as ``data.pkl`` instead of the pickle of ``state`` (crafted
            files; the storages of ``state`` are still written).
    """
    writer = _Writer()
    body = pickle.PROTO + b'\x02' + writer.value(state) + pickle.STOP
    with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f'{name}/data.pkl', pickle_bytes if pickle_bytes is not None else body)
        zf.writestr(f'{name}/byteorder', 'little')
        for key, data in writer.storages:
            zf.writestr(f'{name}/data/{key}', data)
        zf.writestr(f'{name}/version', '3\n')
    return str(path)

"""Crafted ``.pdparams`` files, written opcode by opcode, for the weights-reader tests.

Each one abuses the pickle format the way a probe of issue 20 did: with Python's own
unpickler they crash the process, read heap memory, allocate gigabytes or hang. ``CRAFTED``
maps a name to ``(bytes, what the refusal must say)``; ``write_crafted(folder)`` writes them all.
"""
import os
import pickle
import struct
from typing import Dict, List, Tuple

from torch_pth import pickle_global as _global
from torch_pth import pickle_int as _int
from torch_pth import pickle_str as _str
from torch_pth import pickle_tuple as _tuple

__all__ = ['CRAFTED', 'ACCEPTANCE_CASES', 'write_crafted', 'plain_array', 'state_dict']

P = pickle


def _dtype(code: str, state: bytes = None) -> bytes:
    """``numpy.dtype(code, False, True)`` then BUILD with ``state`` (numpy's plain one by
    default: ``(3, '<', None, None, None, -1, -1, 0)``)."""
    if state is None:
        state = _tuple(_int(3), _str('<' if code[-1] != '1' else '|'), P.NONE, P.NONE, P.NONE,
                       _int(-1), _int(-1), _int(0))
    return (_global('numpy', 'dtype') + _tuple(_str(code), P.NEWFALSE, P.NEWTRUE) + P.REDUCE
            + state + P.BUILD)


def plain_array(shape: Tuple[int, ...], data: bytes, dtype: bytes = None) -> bytes:
    """An array as numpy pickles it: ``_reconstruct(ndarray, (0,), b'b')`` + BUILD."""
    dtype = dtype if dtype is not None else _dtype('f4')
    return (_global('numpy._core.multiarray', '_reconstruct')
            + _tuple(_global('numpy', 'ndarray'), _tuple(_int(0)), P.SHORT_BINBYTES + b'\x01b')
            + P.REDUCE
            + _tuple(_int(1), _tuple(*[_int(n) for n in shape]), dtype, P.NEWFALSE,
                     P.BINBYTES + struct.pack('<I', len(data)) + data)
            + P.BUILD)


def state_dict(items: List[Tuple[str, bytes]]) -> bytes:
    """A pickled dict of ``key -> the object the opcodes build``."""
    body = b''.join(_str(key) + value for key, value in items)
    return P.PROTO + b'\x03' + P.EMPTY_DICT + P.MARK + body + P.SETITEMS + P.STOP


def _field_dtype(field: bytes, offset: int) -> bytes:
    """A dtype whose BUILD state gives it one field at ``offset`` (what numpy accepts)."""
    fields = P.EMPTY_DICT + _str('x') + _tuple(field, _int(offset)) + P.SETITEM
    state = _tuple(_int(3), _str('|'), P.NONE, _tuple(_str('x')), fields, _int(8), _int(1),
                   _int(0))
    return _dtype('f4', state)


def _fake_object_dtype() -> bytes:
    """A void dtype with an object field, its flags claiming no objects: numpy would read
    the array's bytes as PyObject pointers."""
    fields = P.EMPTY_DICT + _str('x') + _tuple(_dtype('O'), _int(0)) + P.SETITEM
    state = _tuple(_int(3), _str('|'), P.NONE, _tuple(_str('x')), fields, _int(8), _int(1),
                   _int(0))
    return state_dict([('w', plain_array((2,), b'\x41' * 16, _dtype('V8', state)))])


def _stride0_join() -> bytes:
    """Two 2^28-element stride-0 views of 8 bytes, joined by Paddle's big-parameter table
    into a 4 GiB tensor."""
    view = (_global('numpy', 'ndarray')
            + _tuple(_tuple(_int(1 << 28)), _dtype('f8'), P.SHORT_BINBYTES + b'\x08' + b'\x00' * 8,
                     _int(0), _tuple(_int(0)))
            + P.REDUCE)
    info = (P.EMPTY_DICT + _str('w') + P.EMPTY_DICT + P.MARK + _str('OriginShape')
            + _tuple(_int(1 << 29)) + _str('slices') + P.EMPTY_LIST + P.MARK + _str('w@@.0')
            + _str('w@@.1') + P.APPENDS + P.SETITEMS + P.SETITEM)
    return state_dict([('w@@.0', view), ('w@@.1', view), ('UnpackBigParamInfor@@', info)])


def _dag(levels: int = 40, kind: str = 'tuple') -> bytes:
    """A structure of ``levels`` nested pairs of the same object: 2^levels paths."""
    ops = (P.EMPTY_TUPLE if kind == 'tuple' else P.EMPTY_LIST) + P.MEMOIZE + P.POP
    for level in range(levels):
        get = P.BINGET + bytes([level])
        pair = (get + get + P.TUPLE2) if kind == 'tuple' else (
            P.EMPTY_LIST + P.MARK + get + get + P.APPENDS)
        ops += pair + P.MEMOIZE + P.POP
    ops += P.BINGET + bytes([levels])
    return P.PROTO + b'\x04' + P.EMPTY_DICT + _str('w') + ops + P.SETITEM + P.STOP


def _deep_nesting(depth: int = 300_000) -> bytes:
    return (P.PROTO + b'\x02' + P.EMPTY_DICT + _str('w') + P.EMPTY_LIST * depth
            + P.APPEND * (depth - 1) + P.SETITEM + P.STOP)


def _huge_allocation() -> bytes:
    """numpy's ``_reconstruct`` asked for a 1.9 GB array by a file of about 150 bytes."""
    call = (_global('numpy._core.multiarray', '_reconstruct')
            + _tuple(_global('numpy', 'ndarray'), _tuple(_int(1_900_000_000)),
                     P.SHORT_BINBYTES + b'\x01b') + P.REDUCE)
    return state_dict([('w', call)])


def _huge_declared_bytes() -> bytes:
    """A 1.9 GB byte string declared by a file of about 120 bytes."""
    return state_dict([('w', P.BINBYTES8 + struct.pack('<Q', 1_900_000_000) + b'\x00' * 100)])


def _huge_array() -> bytes:
    """A 2^28-element float64 array given 8 bytes."""
    return state_dict([('w', plain_array((1 << 28,), b'\x00' * 8, _dtype('f8')))])


# name -> (file bytes, a phrase the one-line refusal must contain)
CRAFTED: Dict[str, Tuple[bytes, str]] = {
    'fake_object_dtype': (_fake_object_dtype(), "numpy dtype 'V8'"),
    'out_of_bounds_offset': (state_dict([('w', plain_array((1,), b'\x00' * 4, _field_dtype(
        _dtype('f4'), 1 << 20)))]), 'only plain dtypes'),
    'offset_2_40': (state_dict([('w', plain_array((1,), b'\x00' * 4, _field_dtype(
        _dtype('f4'), 1 << 40)))]), 'only plain dtypes'),
    'stride0_join': (_stride0_join(), 'numpy.ndarray'),
    'dag': (_dag(), 'more than 1,000,000 objects'),
    'dag_of_lists': (_dag(kind='list'), 'refers a second time to a list'),
    'deep_nesting': (_deep_nesting(), 'more than 64 levels deep'),
    'huge_allocation': (_huge_allocation(), "numpy's _reconstruct is called with"),
    'huge_declared_bytes': (_huge_declared_bytes(), 'declares 1,900,000,000 bytes'),
    'huge_array': (_huge_array(), 'needs 2147483648 bytes'),
}
# the six kinds issue 20's acceptance names, run through every command
ACCEPTANCE_CASES = ['fake_object_dtype', 'out_of_bounds_offset', 'stride0_join', 'dag',
                    'deep_nesting', 'huge_allocation']


def write_crafted(folder: str) -> Dict[str, str]:
    """Write every crafted file as ``<folder>/<name>.pdparams``; return name -> path."""
    paths = {}
    for name, (data, _) in CRAFTED.items():
        paths[name] = os.path.join(folder, f'{name}.pdparams')
        with open(paths[name], 'wb') as f:
            f.write(data)
    return paths

"""Checked stand-ins for what ``paddle.save`` pickles: numpy arrays, dtypes and scalars.

numpy pickles an array as ``_reconstruct(ndarray, (0,), b'b')`` followed by ``BUILD`` with
``(version, shape, dtype, fortran, bytes)``, and a dtype as ``dtype('f4', False, True)``
followed by ``BUILD`` with ``(3, '<', None, None, None, -1, -1, 0)``. The real ``numpy.dtype``
would accept fields, subarrays, object flags and offsets in that state, so the
:func:`paddle_rules` given to the pickle reader hand out stand-ins instead: they accept exactly
those forms for the type strings in ``array_specs.ALLOWED_TYPE_CODES`` and build the array as a
view of the file's bytes (see ``array_specs``). Also here: the stand-ins for the other forms
Paddle's (and Python's) pickles use: ``builtins.eval`` for a static-graph DenseTensor,
``builtins.tuple``, ``_codecs.encode`` / ``bytes()`` / ``set()`` / ``frozenset()`` for those
types under pickle protocols 0-3, and ``collections.OrderedDict``.
"""
import collections
from typing import Any, Dict, Tuple

import numpy as np

from .array_specs import array_from_bytes, checked_shape, plain_dtype
from .safe_pickle import Budget, Buildable, FileBytes, PickleRules
from .weights_errors import UnsafeWeightsError, short_repr

__all__ = ['PendingDtype', 'PendingArray', 'native_aligned', 'paddle_rules', 'as_bytes']

# the state numpy's dtype.__reduce__ gives every plain dtype, after its version and byte order
_PLAIN_DTYPE_STATE = (None, None, None, -1, -1, 0)


def as_bytes(data: Any, budget: Budget, what: str):
    """Bytes-like ``data`` as it came from the file; a Python 2 ``str`` is re-encoded."""
    if isinstance(data, (bytes, bytearray, memoryview, FileBytes)):
        return data
    if isinstance(data, str):  # numpy arrays pickled by Python 2 carry their bytes as str
        budget.add_bytes(len(data), what)
        return data.encode('latin1')
    raise UnsafeWeightsError(f'{budget.source}: refused to load: {what} must be given bytes, '
                             f'got a {type(data).__name__}.')


def native_aligned(array: np.ndarray, budget: Budget) -> np.ndarray:
    """``array`` in native byte order and aligned memory; copies (charged) only if needed."""
    if not array.dtype.isnative:
        budget.add_bytes(array.nbytes, 'converting the byte order of an array')
        return array.astype(array.dtype.newbyteorder('='))
    if not array.flags.aligned:
        # a view at an odd offset of the file: numpy copes, other libraries may not
        budget.add_bytes(array.nbytes, 'aligning an array')
        return array.copy()
    return array


class PendingDtype(Buildable):
    """``numpy.dtype(code, align, copy)``: a whitelisted type, byte order set by ``BUILD``."""

    def __init__(self, budget: Budget, code: Any, align: Any = False, copy: Any = True) -> None:
        self.budget = budget
        if isinstance(code, str) and code[:1] in '<>|=' and len(code) > 1:
            code = code[1:]
        self.code = code
        self.dtype = plain_dtype(code, '=', budget.source)

    def __repr__(self) -> str:
        return f'dtype({self.code!r})'

    def build(self, state: Any) -> 'PendingDtype':
        if (not isinstance(state, tuple) or len(state) != 8 or state[0] != 3
                or state[2:] != _PLAIN_DTYPE_STATE):
            raise UnsafeWeightsError(
                f'{self.budget.source}: refused to load: the state of a numpy {self.code} dtype '
                f'is {short_repr(state, 160)}; only plain dtypes (no fields, subarrays, sizes, '
                f'offsets or flags) are allowed.')
        self.dtype = plain_dtype(self.code, state[1], self.budget.source)
        return self


def _dtype_of(value: Any, budget: Budget) -> np.dtype:
    if not isinstance(value, PendingDtype):
        raise UnsafeWeightsError(f'{budget.source}: refused to load: an array\'s dtype is a '
                                 f'{type(value).__name__}, not a numpy dtype of the file.')
    return value.dtype


class PendingArray(Buildable):
    """``_reconstruct(ndarray, (0,), b'b')``: the array ``BUILD`` then fills from file bytes."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    def build(self, state: Any) -> np.ndarray:
        if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
            state = state[1:]
        if not isinstance(state, tuple) or len(state) != 4 or state[2] not in (True, False, 0, 1):
            raise UnsafeWeightsError(f'{self.budget.source}: refused to load: an array\'s state '
                                     f'is not (version, shape, dtype, fortran, bytes).')
        shape, dtype, fortran, data = state
        array = array_from_bytes(as_bytes(data, self.budget, 'an array'),
                                 _dtype_of(dtype, self.budget), shape, bool(fortran),
                                 self.budget.source)
        return native_aligned(array, self.budget)


class _NdarrayClass:
    """What the global ``numpy.ndarray`` resolves to: only an argument of ``_reconstruct``."""

    def __repr__(self) -> str:
        return 'ndarray'


def _paddle_callables(budget: Budget) -> Dict[str, Any]:
    """The checked stand-ins, by the name of what they stand in for."""
    ndarray = _NdarrayClass()

    def reconstruct(cls: Any, shape: Any, typecode: Any) -> PendingArray:
        if cls is not ndarray or shape != (0,) or typecode not in (b'b', 'b'):
            raise UnsafeWeightsError(f'{budget.source}: refused to load: numpy\'s _reconstruct '
                                     f'is called with {short_repr((cls, shape, typecode))}, not '
                                     f'the (ndarray, (0,), b"b") numpy writes.')
        return PendingArray(budget)

    def scalar(dtype: Any, data: Any = b'') -> Any:
        dtype = _dtype_of(dtype, budget)
        data = as_bytes(data, budget, 'a numpy scalar')
        if len(data) != dtype.itemsize:
            raise UnsafeWeightsError(f'{budget.source}: refused to load: a numpy {dtype.str} '
                                     f'scalar is given {len(data)} bytes.')
        return np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder('='))[0]

    def frombuffer(data: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
        if order not in ('C', 'F'):
            raise UnsafeWeightsError(f'{budget.source}: refused to load: array order '
                                     f'{short_repr(order, 10)}.')
        array = array_from_bytes(as_bytes(data, budget, 'an array'), _dtype_of(dtype, budget),
                                 checked_shape(shape, budget.source), order == 'F', budget.source)
        return native_aligned(array, budget)

    return {'ndarray': ndarray, 'dtype': lambda *a: PendingDtype(budget, *a),
            'reconstruct': reconstruct, 'scalar': scalar, 'frombuffer': frombuffer}


def _paddle_forms(budget: Budget) -> Dict[str, Any]:
    """Stand-ins for the non-numpy globals Paddle's pickles use."""

    def dense_tensor_eval(source: Any, namespace: Any = None, *rest: Any) -> np.ndarray:
        # Paddle writes a static-graph DenseTensor as eval('data', {'data': array})
        if (source == 'data' and not rest and isinstance(namespace, dict)
                and set(namespace) == {'data'} and isinstance(namespace['data'], np.ndarray)):
            return namespace['data']
        raise UnsafeWeightsError(f'{budget.source}: refused to load: the file asks to call '
                                 f'the Python global \'builtins.eval\' in a form Paddle never '
                                 f'writes (nothing was evaluated).')

    def codecs_encode(text: Any, encoding: Any = 'utf-8', *rest: Any) -> bytes:
        # pickle protocol 2 writes bytes as _codecs.encode(str, 'latin1')
        if isinstance(text, str) and encoding in ('latin1', 'latin-1') and not rest:
            budget.add_bytes(len(text), 'bytes written under pickle protocol 2')
            return text.encode('latin1')
        raise UnsafeWeightsError(f'{budget.source}: refused to load: _codecs.encode is called '
                                 f'in a form pickle never writes.')

    def plain_tuple(items: Any = ()) -> tuple:
        if not isinstance(items, (list, tuple)):
            raise UnsafeWeightsError(f'{budget.source}: refused to load: tuple() of a '
                                     f'{type(items).__name__}.')
        return tuple(items)

    def empty_bytes() -> bytes:  # pickle protocols 0-2 write b'' as bytes()
        return b''

    def plain_set(items: Any = ()) -> set:  # protocols 0-3 write a set as set([items])
        if not isinstance(items, list):
            raise UnsafeWeightsError(f'{budget.source}: refused to load: set() of a '
                                     f'{type(items).__name__}.')
        return set(items)

    return {'eval': dense_tensor_eval, 'encode': codecs_encode, 'tuple': plain_tuple,
            'bytes': empty_bytes, 'set': plain_set,
            'frozenset': lambda *a: frozenset(plain_set(*a)),
            'OrderedDict': lambda *a: ordered_dict(budget, *a)}


def ordered_dict(budget: Budget, items: Any = None) -> collections.OrderedDict:
    """``collections.OrderedDict()``, or of ``[[key, value], ...]`` (pickle protocols 0-1)."""
    if items is None:
        return collections.OrderedDict()
    if not isinstance(items, list) or not all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in items):
        raise UnsafeWeightsError(f'{budget.source}: refused to load: OrderedDict() of '
                                 f'something other than key-value pairs.')
    return collections.OrderedDict((key, value) for key, value in items)


def numpy_globals(budget: Budget) -> Dict[Tuple[str, str], Any]:
    """(module, name) -> stand-in for numpy's pickled forms (numpy 1 and 2 module names)."""
    fns = _paddle_callables(budget)
    table: Dict[Tuple[str, str], Any] = {('numpy', 'ndarray'): fns['ndarray'],
                                         ('numpy', 'dtype'): fns['dtype']}
    for core in ('numpy.core', 'numpy._core'):
        table[(f'{core}.multiarray', '_reconstruct')] = fns['reconstruct']
        table[(f'{core}.multiarray', 'scalar')] = fns['scalar']
        table[(f'{core}.numeric', '_frombuffer')] = fns['frombuffer']
    return table


def paddle_rules(budget: Budget) -> PickleRules:
    """The globals a ``.pdparams``/``.pdopt`` (paddle.save, any protocol) may name."""
    forms = _paddle_forms(budget)
    table = numpy_globals(budget)
    table.update({('collections', 'OrderedDict'): forms['OrderedDict'],
                  ('builtins', 'eval'): forms['eval'], ('_codecs', 'encode'): forms['encode']})
    for builtins in ('builtins', '__builtin__'):  # Python 3 and 2 names
        table.update({(builtins, name): forms[name] for name in ('tuple', 'bytes', 'set', 'frozenset')})
    return PickleRules(globals=table, kind='Paddle weights file')

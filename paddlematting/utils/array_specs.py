"""Plain numeric arrays built from a weights file's own bytes, checked before numpy sees them.

A weights file may describe arrays only with a type string from ``ALLOWED_TYPE_CODES``
(booleans, integers, floats, complex): no structured dtypes, fields, subarrays, objects,
strings or datetimes. Every array is a view of bytes that came from the file, and its shape
(and, for torch's strided tensors, offset and strides) is checked with Python integers
against those bytes first, so no view reaches outside them, repeats them (stride 0) or
overlaps itself. Callers pass ``source`` (the file, or ``archive:member``) to name in errors.
"""
import math
from typing import Sequence, Tuple

import numpy as np

from .weights_errors import UnsafeWeightsError, short_repr

__all__ = ['ALLOWED_TYPE_CODES', 'MAX_NDIM', 'plain_dtype', 'checked_shape', 'array_from_bytes',
           'strided_view', 'bfloat16_to_float32']

ALLOWED_TYPE_CODES = frozenset(['b1', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8',
                                'f2', 'f4', 'f8', 'c8', 'c16'])
_BYTEORDERS = ('<', '>', '|', '=')
MAX_NDIM = 32  # numpy allows 64; no weights tensor comes near 32


def plain_dtype(code: object, byteorder: object, source: str) -> np.dtype:
    """The numpy dtype for a whitelisted type string and byte order (``'<'``, ``'>'``, ...).

    Raises:
        UnsafeWeightsError: ``code`` is not in ``ALLOWED_TYPE_CODES`` (named in the message).
    """
    if not isinstance(code, str) or code not in ALLOWED_TYPE_CODES:
        raise UnsafeWeightsError(
            f'{source}: refused to load: it declares the numpy dtype {short_repr(code, 40)}; '
            f'weights may only be of the plain types {", ".join(sorted(ALLOWED_TYPE_CODES))} '
            f'(never Python objects, strings, structured or datetime dtypes).')
    if byteorder not in _BYTEORDERS:
        raise UnsafeWeightsError(f'{source}: refused to load: the byte order '
                                 f'{short_repr(byteorder, 10)} of a {code} dtype is not one of '
                                 f'{" ".join(_BYTEORDERS)}.')
    dtype = np.dtype(code)
    return dtype.newbyteorder(byteorder) if dtype.itemsize > 1 else dtype


def checked_shape(shape: object, source: str, what: str = 'shape') -> Tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints (at most ``MAX_NDIM``), or an error."""
    if not isinstance(shape, (tuple, list)) or len(shape) > MAX_NDIM or not all(
            type(n) is int and n >= 0 for n in shape):  # bool is an int: refused by `type`
        raise UnsafeWeightsError(f'{source}: refused to load: an array {what} must be at most '
                                 f'{MAX_NDIM} non-negative integers, got {short_repr(shape)}.')
    return tuple(shape)


def array_from_bytes(data, dtype: np.dtype, shape: Sequence[int], fortran: bool,
                     source: str) -> np.ndarray:
    """A view of ``data`` (bytes-like) as an array of ``shape``; its length must match exactly.

    Args:
        data: bytes, bytearray or memoryview holding exactly ``prod(shape) * itemsize`` bytes.
        dtype: from :func:`plain_dtype`.
        fortran: the bytes are in column-major order (numpy pickles such arrays that way).
    Raises:
        UnsafeWeightsError: the byte count differs from what the shape needs.
    """
    shape = checked_shape(shape, source)
    needed = math.prod(shape) * dtype.itemsize
    if needed != len(data):
        raise UnsafeWeightsError(
            f'{source}: refused to load: an array of shape {list(shape)} and dtype {dtype.str} '
            f'needs {needed} bytes, but the file gives it {len(data)}.')
    if isinstance(data, bytes):
        # a short byte string the pickle reader copied (long ones are views of the file's
        # writable buffer): arrays come back writable, as numpy's own unpickling makes them
        data = bytearray(data)
    flat = np.frombuffer(data, dtype=dtype)
    return flat.reshape(shape, order='F' if fortran else 'C')


def _check_no_overlap(shape: Tuple[int, ...], strides: Tuple[int, ...], source: str) -> None:
    """Refuse stride 0 and layouts where two indices reach the same element."""
    extent = 1
    dims = sorted((s, n) for s, n in zip(strides, shape) if n > 1)
    for stride, size in dims:
        if stride < extent:  # stride 0 repeats; a smaller stride overlaps the inner dims
            raise UnsafeWeightsError(
                f'{source}: refused to load: a tensor of size {list(shape)} with strides '
                f'{list(strides)} reads some elements more than once (stride 0 or '
                f'overlapping views are never saved by torch.save).')
        extent = stride * size


def strided_view(storage: np.ndarray, offset: object, shape: object, strides: object,
                 source: str) -> np.ndarray:
    """The tensor view (element offset, sizes, element strides) of a 1-D ``storage`` array.

    Every element the view can reach must lie inside ``storage``; strides must be positive
    for dimensions longer than 1 and the view must not overlap itself. A view over several
    tensors of one storage (torch's views) is fine: only the one view is checked.
    Raises:
        UnsafeWeightsError: naming the offset, sizes and strides that do not fit.
    """
    shape = checked_shape(shape, source, 'size')
    strides = checked_shape(strides, source, 'stride')
    if type(offset) is not int or offset < 0 or len(strides) != len(shape):
        raise UnsafeWeightsError(f'{source}: refused to load: a tensor offset must be a '
                                 f'non-negative integer with one stride per dimension, got '
                                 f'offset {short_repr(offset, 40)}, size {list(shape)}, strides '
                                 f'{list(strides)}.')
    last = offset + sum((n - 1) * s for n, s in zip(shape, strides)) if math.prod(shape) else offset - 1
    if offset > storage.size or last >= storage.size:
        raise UnsafeWeightsError(
            f'{source}: refused to load: a tensor at offset {offset} with size {list(shape)} '
            f'and strides {list(strides)} reaches element {last}, outside its storage of '
            f'{storage.size} elements.')
    _check_no_overlap(shape, strides, source)
    item = storage.itemsize
    return np.ndarray(shape, dtype=storage.dtype, buffer=storage, offset=offset * item,
                      strides=tuple(s * item for s in strides))


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 values (their raw 16 bits as uint16, any shape) as float32, exactly."""
    return (bits.astype(np.uint32) << 16).view(np.float32)

"""Argument checks shared by the transforms: each returns the value in canonical form or raises.

``name`` is what the error message names: ``'Transform.argument'`` for constructor arguments
(e.g. ``'RandomBlur.prob'``), the transform itself for :func:`check_uint8_img`. Every error is
a ValueError of one sentence saying what was expected and what was given.
"""
import numbers
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

import numpy as np

Bound = TypeVar('Bound', int, float)


def _is_real(value: Any) -> bool:
    """A real number (python or numpy), bools excluded."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    """An integer (python or numpy), bools excluded."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_bool(value: Any, name: str) -> bool:
    """``value`` after checking it is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f'{name} must be true or false, got {value!r}.')
    return bool(value)


def check_number_in_range(value: Any, name: str, low: float, high: Optional[float] = None) -> float:
    """``value`` as a float after checking low <= value <= high (high None: no upper bound)."""
    if not _is_real(value) or value < low or (high is not None and value > high):
        interval = f'[{low}, {high}]' if high is not None else f'>= {low}'
        raise ValueError(f'{name} must be a number {"in " if high is not None else ""}{interval}, '
                         f'got {value!r}.')
    return float(value)


def check_probability(value: Any, name: str) -> float:
    """``value`` as a float after checking it is a number in [0, 1]."""
    return check_number_in_range(value, name, 0, 1)


def check_positive_number(value: Any, name: str) -> float:
    """``value`` as a float after checking it is a number > 0."""
    if not _is_real(value) or value <= 0:
        raise ValueError(f'{name} must be a positive number, got {value!r}.')
    return float(value)


def check_int_in_range(value: Any, name: str, low: int, high: int) -> int:
    """``value`` as an int after checking it is an integer with low <= value <= high."""
    if not _is_integer(value) or not low <= value <= high:
        raise ValueError(f'{name} must be an integer in [{low}, {high}], got {value!r}.')
    return int(value)


def check_positive_int(value: Any, name: str, allow_none: bool = False) -> Optional[int]:
    """``value`` as an int after checking it is an integer >= 1 (or None, when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not _is_integer(value) or value < 1:
        raise ValueError(f'{name} must be a positive integer{" or None" if allow_none else ""}, '
                         f'got {value!r}.')
    return int(value)


def parse_interval(value: Any, name: str,
                   check_bound: Callable[[Any, str], Bound]) -> Tuple[Bound, Bound]:
    """A ``[low, high]`` pair with low <= high, each bound checked by ``check_bound(bound, name)``.

    E.g. ``parse_interval(scale, 'RandomResize.scale', check_positive_number)`` -> (0.5, 2.0).
    """
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f'{name} must be a [low, high] pair, got {value!r}.')
    low, high = check_bound(value[0], f'{name}[0]'), check_bound(value[1], f'{name}[1]')
    if low > high:
        raise ValueError(f'{name} must have low <= high, got {value!r}.')
    return low, high


def parse_size_wh(value: Any, name: str, allow_int: bool = False) -> Tuple[int, int]:
    """A (width, height) pair of positive integers from ``[w, h]`` (or one int n -> (n, n)
    when ``allow_int``)."""
    if allow_int and _is_integer(value):
        value = (value, value)
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(_is_integer(v) and v >= 1 for v in value)):
        either = 'a positive integer or ' if allow_int else ''
        raise ValueError(f'{name} must be {either}a [width, height] pair of positive integers, '
                         f'got {value!r}.')
    return int(value[0]), int(value[1])


def parse_size_choices(value: Any, name: str) -> List[Tuple[int, int]]:
    """A list of (width, height) pairs from ``n``, ``[w, h]`` or ``[[w, h], ...]`` (non-empty)."""
    if _is_integer(value) or (isinstance(value, (list, tuple)) and len(value) == 2
                              and all(_is_integer(v) for v in value)):
        return [parse_size_wh(value, name, allow_int=True)]
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f'{name} must be [w, h] or a non-empty list of [w, h] pairs of positive '
                         f'integers, got {value!r}.')
    return [parse_size_wh(size, f'{name}[{i}]') for i, size in enumerate(value)]


def check_uint8_img(data: Dict, name: str) -> np.ndarray:
    """``data['img']`` after checking it is uint8 [H, W, 3] (i.e. not yet normalised)."""
    img = data['img']
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name} expects sample['img'] as uint8 [H, W, 3] (put it before "
                         f"Normalize), got dtype {img.dtype} shape {img.shape}.")
    return img

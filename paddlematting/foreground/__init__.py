"""Foreground colour estimation: the F in I = alpha * F + (1 - alpha) * B, given I and alpha.

A matte alone does not make a clean cut-out: in hair and other semi-transparent pixels the
photo's colour I still holds the old background, which shows as a halo on a new one.
``estimate_foreground`` recovers un-premultiplied foreground colours for those pixels.

Methods (both numpy/OpenCV only, no paddle and no JIT compilation):

- ``'blur_fusion'`` (default): Forte & Pitie, "Approximate Fast Foreground Colour
  Estimation", ICIP 2021, two-pass variant (box radii 90 then 6). See ``blur_fusion.py``.
- ``'multilevel'``: Germer et al., "Fast Multi-Level Foreground Estimation", ICPR 2020
  (the method of pymatting's ``estimate_foreground_ml``). See ``multilevel.py``.

This package imports neither paddle nor any paddle-importing module of paddlematting.
"""
from typing import Optional, Tuple

import numpy as np

from .band_output import Uint8Output
from .blur_fusion import blur_fusion, blur_fusion_bands
from .multilevel import multilevel
from .unit_rows import UnitRows, uint8_to_unit, unit_to_uint8

__all__ = ['estimate_foreground', 'estimate_foreground_uint8', 'blur_fusion', 'multilevel',
           'METHODS', 'as_float_inputs']

METHODS = {'blur_fusion': blur_fusion, 'multilevel': multilevel}
# a float input a little above 1 is rounding noise; far above means 0..255 data in a float array
_FLOAT_RANGE_SLACK = 1e-3


def _as_unit_float(array: np.ndarray, name: str) -> np.ndarray:
    """uint8 (0..255) or float ([0, 1]) -> contiguous float32 in [0, 1]; ValueError otherwise."""
    if array.dtype == np.uint8:
        return uint8_to_unit(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f'estimate_foreground: {name} must be uint8 (0..255) or float (0..1), '
                         f'got dtype {array.dtype}.')
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.size and (float(array.max()) > 1.0 + _FLOAT_RANGE_SLACK or float(array.min()) < -_FLOAT_RANGE_SLACK):
        raise ValueError(f'estimate_foreground: float {name} must lie in [0, 1], got values in '
                         f'[{float(array.min()):.3g}, {float(array.max()):.3g}] (pass uint8 for 0..255 data).')
    return array


def as_float_inputs(image: np.ndarray, alpha: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Check and convert ``estimate_foreground``'s inputs.

    Returns:
        (image float32 [H,W,3] in [0,1], alpha float32 [H,W] in [0,1]), both C-contiguous.

    Raises:
        ValueError: one sentence naming the mismatched shape or unsupported dtype.

    >>> import numpy as np
    >>> image, alpha = as_float_inputs(np.full((2, 2, 3), 255, np.uint8), np.zeros((2, 2, 1), np.uint8))
    >>> image.dtype, image.shape, float(image.max()), alpha.shape
    (dtype('float32'), (2, 2, 3), 1.0, (2, 2))
    >>> as_float_inputs(np.zeros((2, 2, 3), np.uint8), np.zeros((3, 2), np.uint8))
    Traceback (most recent call last):
    ...
    ValueError: estimate_foreground: alpha must be [H, W] = [2, 2] like the image, got shape (3, 2).
    """
    image, alpha = _checked_shapes(image, alpha)
    return _as_unit_float(image, 'image'), np.clip(_as_unit_float(alpha, 'alpha'), 0.0, 1.0)


def _checked_shapes(image: np.ndarray, alpha: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(image [H, W, 3], alpha [H, W]) as arrays; ValueError naming a mismatched shape."""
    image, alpha = np.asarray(image), np.asarray(alpha)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'estimate_foreground: image must be [H, W, 3] RGB, got shape {image.shape}.')
    if alpha.ndim == 3 and alpha.shape[2] == 1:
        alpha = alpha[:, :, 0]
    if alpha.shape != image.shape[:2]:
        raise ValueError(f'estimate_foreground: alpha must be [H, W] = {list(image.shape[:2])} like '
                         f'the image, got shape {alpha.shape}.')
    return image, alpha


def estimate_foreground(image: np.ndarray, alpha: np.ndarray, method: str = 'blur_fusion') -> np.ndarray:
    """Foreground colours F of ``image`` under the matte ``alpha``.

    Args:
        image: uint8 [H, W, 3] RGB (0..255), or float [H, W, 3] in [0, 1].
        alpha: uint8 [H, W] (0..255), or float [H, W] in [0, 1]; [H, W, 1] is accepted.
        method: 'blur_fusion' (fast, default) or 'multilevel' (slower, a little closer).

    Returns:
        float32 [H, W, 3] in [0, 1], un-premultiplied: equal to the image where alpha is 1,
        the estimated foreground colour where 0 < alpha < 1; where alpha is 0 the colour is
        invisible and method-specific.

    Raises:
        ValueError: a shape or dtype mismatch, float data outside [0, 1], an unknown method.

    A photo of a red object (left) on green (right), with a soft column between:

    >>> import numpy as np
    >>> image = np.zeros((8, 8, 3), np.uint8)
    >>> image[:, :4] = (255, 0, 0)
    >>> image[:, 4:] = (0, 255, 0)
    >>> alpha = np.zeros((8, 8), np.uint8)
    >>> alpha[:, :4] = 255
    >>> alpha[:, 4] = 128
    >>> image[:, 4] = (128, 127, 0)  # the soft column mixes red with green
    >>> for method in ('blur_fusion', 'multilevel'):
    ...     fg = estimate_foreground(image, alpha, method)
    ...     print(method, fg.dtype, fg[0, 0].round(3).tolist(), (fg[0, 4] > 0.9).tolist())
    blur_fusion float32 [1.0, 0.0, 0.0] [True, False, False]
    multilevel float32 [1.0, 0.0, 0.0] [True, False, False]
    """
    if method not in METHODS:
        raise ValueError(f'estimate_foreground: method must be one of {sorted(METHODS)}, got {method!r}.')
    image, alpha = as_float_inputs(image, alpha)
    return METHODS[method](image, alpha)


def estimate_foreground_uint8(image: np.ndarray, alpha: np.ndarray, method: str = 'blur_fusion',
                              out: Optional[np.ndarray] = None) -> np.ndarray:
    """``estimate_foreground`` as 8-bit colours, with memory bounded by bands where it can be.

    Equal to ``np.rint(estimate_foreground(image, alpha, method) * 255).astype(np.uint8)``.
    For uint8 inputs and 'blur_fusion' it is computed band by band (``blur_fusion_bands``):
    besides the uint8 result it holds a few float32 bands of about two megapixels, not the
    photo's 28 bytes per pixel of float32 image, matte and result. 'multilevel' solves the
    whole image at once (its coarse-to-fine levels need every pixel), so it takes the float
    path and more memory.

    Args:
        image: uint8 [H, W, 3] RGB (or float [H, W, 3] in [0, 1]).
        alpha: uint8 [H, W] (or float in [0, 1]); [H, W, 1] is accepted.
        method: one of ``METHODS``.
        out: optional uint8 [H, W, 3] (a view is fine, e.g. an RGBA array's first three
            channels) that receives the result.
    Returns:
        uint8 [H, W, 3] RGB: ``out`` when given.

    The colours written straight into an RGBA cut-out (no separate RGB array):

    >>> import numpy as np
    >>> image = np.zeros((4, 6, 3), np.uint8)
    >>> image[:, :3] = (200, 10, 10)
    >>> alpha = np.zeros((4, 6), np.uint8)
    >>> alpha[:, :3] = 255
    >>> alpha[:, 3] = 100
    >>> rgba = np.zeros((4, 6, 4), np.uint8)
    >>> fg = estimate_foreground_uint8(image, alpha, out=rgba[:, :, :3])
    >>> fg.base is rgba, rgba[0, 0, :3].tolist(), rgba[0, 5, :3].tolist()
    (True, [200, 10, 10], [0, 0, 0])
    """
    if method not in METHODS:
        raise ValueError(f'estimate_foreground: method must be one of {sorted(METHODS)}, got {method!r}.')
    image, alpha = _checked_shapes(image, alpha)
    if out is None:
        out = np.empty(image.shape, np.uint8)
    elif out.shape != image.shape or out.dtype != np.uint8:
        raise ValueError(f'estimate_foreground: out must be uint8 {list(image.shape)}, got '
                         f'{out.dtype} {list(out.shape)}.')
    if method != 'blur_fusion' or image.dtype != np.uint8 or alpha.dtype != np.uint8:
        out[...] = unit_to_uint8(estimate_foreground(image, alpha, method))
        return out
    image, alpha = np.ascontiguousarray(image), np.ascontiguousarray(alpha)
    blur_fusion_bands(UnitRows(image, alpha), Uint8Output(out, image, alpha))
    return out

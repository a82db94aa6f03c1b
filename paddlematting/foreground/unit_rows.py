"""Rows of an image and its matte as float32 in [0, 1], converted band by band; the two
conversions between uint8 (0..255) and float32 in [0, 1].

The estimators take colours and alpha in [0, 1]. Converting a whole uint8 photo first would
cost 12 bytes per pixel for the image alone (576 MB at 48 megapixels); ``UnitRows`` converts
only the rows asked for, with the same arithmetic as a whole-image conversion, so a banded
estimate equals the whole-image one.
"""
from typing import NamedTuple, Tuple

import cv2
import numpy as np

__all__ = ['UINT8_TO_UNIT', 'uint8_to_unit', 'unit_to_uint8', 'Band', 'UnitRows']

UINT8_TO_UNIT = np.float32(1.0 / 255.0)
# the 256 values of x * float32(1/255): one lookup instead of a conversion and a multiply
_UNIT_VALUES = np.arange(256, dtype=np.float32) * UINT8_TO_UNIT


def uint8_to_unit(array: np.ndarray) -> np.ndarray:
    """uint8 (0..255) [H, W] or [H, W, C<=4] -> float32 in [0, 1]: x * float32(1/255), the
    toolkit's one rule (as a table lookup, OpenCV's: ~10x numpy's astype and multiply)."""
    return cv2.LUT(array, _UNIT_VALUES)


def unit_to_uint8(array: np.ndarray) -> np.ndarray:
    """float [H, W(, C<=4)] in [0, 1] -> uint8, rint(x * 255) (for float32, OpenCV's one pass,
    which rounds half to even as numpy does; ~10x numpy's multiply, rint and cast)."""
    if array.dtype != np.float32:
        return np.rint(array * np.float32(255.0)).astype(np.uint8)
    return cv2.convertScaleAbs(array, alpha=255.0)


class Band(NamedTuple):
    """Rows of an image and its matte in [0, 1]: ``image`` float32 [n, W, 3], ``alpha``
    float32 [n, W] and ``alpha3`` the same alpha repeated over 3 channels [n, W, 3] (numpy is
    slow broadcasting [n, W, 1] against [n, W, 3]; same-shape arrays run at full speed)."""
    image: np.ndarray
    alpha: np.ndarray
    alpha3: np.ndarray


class UnitRows:
    """Rows of ``image`` and ``alpha`` in [0, 1], from uint8 or float32 arrays.

    Args:
        image: uint8 [H, W, 3] (0..255) or float32 [H, W, 3] in [0, 1].
        alpha: uint8 [H, W] or float32 [H, W] in [0, 1] (already checked and clipped).
    """

    def __init__(self, image: np.ndarray, alpha: np.ndarray):
        self.image = image
        self.alpha = alpha
        self.height, self.width = alpha.shape
        self._last: Tuple = ()  # (y0, y1, band): a whole-image band is read by both passes

    def rows(self, y0: int, y1: int) -> Band:
        """The ``Band`` of rows ``y0..y1``: float inputs as views, uint8 ones converted. The
        last band read is kept (a second read is free): do not modify its arrays."""
        if self._last[:2] == (y0, y1):
            return self._last[2]
        band = self._convert(y0, y1)
        self._last = (y0, y1, band)
        return band

    def _convert(self, y0: int, y1: int) -> Band:
        image, alpha = self.image[y0:y1], self.alpha[y0:y1]
        if image.dtype == np.uint8:
            image = uint8_to_unit(image)
        if alpha.dtype == np.uint8:  # 255 -> exactly 1.0: no clip needed
            # repeating the bytes, then looking up, moves a quarter of the data of repeating floats
            return Band(image, uint8_to_unit(alpha), uint8_to_unit(cv2.merge([alpha] * 3)))
        return Band(image, alpha, cv2.merge([alpha] * 3))

"""Rows of an image and its matte as float32 in [0, 1], converted band by band.

The estimators take colours and alpha in [0, 1]. Converting a whole uint8 photo first would
cost 12 bytes per pixel for the image alone (576 MB at 48 megapixels); ``UnitRows`` converts
only the rows asked for, with the same arithmetic as a whole-image conversion, so a banded
estimate equals the whole-image one.
"""
from typing import Tuple

import numpy as np

__all__ = ['UINT8_TO_UNIT', 'uint8_to_unit', 'UnitRows']

UINT8_TO_UNIT = np.float32(1.0 / 255.0)


def uint8_to_unit(array: np.ndarray) -> np.ndarray:
    """uint8 (0..255) -> float32 in [0, 1] (x * float32(1/255), the toolkit's one rule)."""
    return array.astype(np.float32) * UINT8_TO_UNIT


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

    def rows(self, y0: int, y1: int) -> Tuple[np.ndarray, np.ndarray]:
        """(image float32 [n, W, 3], alpha float32 [n, W]) of rows ``y0..y1``; float inputs
        are returned as views, uint8 ones converted."""
        image, alpha = self.image[y0:y1], self.alpha[y0:y1]
        if image.dtype == np.uint8:
            image = uint8_to_unit(image)
        if alpha.dtype == np.uint8:
            alpha = np.clip(uint8_to_unit(alpha), 0.0, 1.0)
        return image, alpha

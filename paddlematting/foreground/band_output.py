"""Where a banded foreground estimate goes: float32 colours, or 8-bit ones written straight
into the caller's array (e.g. an RGBA cut-out's colour channels).

``blur_fusion_bands`` hands over each band twice: ``fill`` for its pixels away from the soft
ones (the result there is I * a with a in {0, 1}: the image where opaque, 0 where clear), then
``put`` for the rectangles around its soft pixels, which overwrite the fill.
"""
import cv2
import numpy as np

from .unit_rows import unit_to_uint8

__all__ = ['FloatOutput', 'Uint8Output']


class FloatOutput:
    """Collects the estimate as float32 [H, W, 3] in [0, 1] (``array``)."""

    def __init__(self, height: int, width: int):
        self.array = np.empty((height, width, 3), np.float32)

    def fill(self, y0: int, y1: int, image: np.ndarray, alpha: np.ndarray) -> None:
        """Rows ``y0..y1``: I * a, from their float32 ``image`` [n, W, 3] and ``alpha`` [n, W]."""
        np.multiply(image, cv2.merge([alpha, alpha, alpha]), out=self.array[y0:y1])

    def put(self, y0: int, x0: int, values: np.ndarray) -> None:
        """The estimate ``values`` float32 [h, w, 3] at rows y0.., columns x0.."""
        h, w = values.shape[:2]
        self.array[y0:y0 + h, x0:x0 + w] = values


class Uint8Output:
    """Writes rint(F * 255) as uint8 into ``out`` [H, W, 3] (a view is fine), from the
    uint8 ``image`` [H, W, 3] and ``alpha`` [H, W] the estimate is made of.

    Away from soft pixels the 8-bit result is the image's own bytes where alpha is 255 and
    0 where it is 0 (x * float32(1/255) * 255 rounds back to x for every byte), so ``fill``
    works on the bytes without any float conversion.
    """

    def __init__(self, out: np.ndarray, image: np.ndarray, alpha: np.ndarray):
        self.out, self.image, self.alpha = out, image, alpha

    def fill(self, y0: int, y1: int, image: np.ndarray, alpha: np.ndarray) -> None:
        opaque = (self.alpha[y0:y1] == 255).view(np.uint8)
        band = self.image[y0:y1]
        self.out[y0:y1] = cv2.bitwise_and(band, band, mask=opaque)

    def put(self, y0: int, x0: int, values: np.ndarray) -> None:
        h, w = values.shape[:2]
        self.out[y0:y0 + h, x0:x0 + w] = unit_to_uint8(values)

"""A trimap made automatically from a soft mask: the first step of the refine chain.

The unknown band is where the mask is unsure of itself (neither near 0 nor near 1) plus a
margin on both sides of it and of every mask edge. The margin scales with the photo (a
fraction of its long side), because a fixed number of pixels is far too wide on a thumbnail
and far too narrow on a 24-megapixel photo. ``BandOptions`` also takes rembg-like overrides:
the two thresholds and an erode size in pixels.

How wide: measured on the shipped real photos (a perfect segmenter's hard mask, closed-form
refiner; table in README "Removing backgrounds"): a band of 0.5 % of the long side on each
side of the edge recovers most of the soft alpha; at 2 % the solver has too little known
colour near the edge and is worse than the bare mask.

numpy/OpenCV only (no paddle).
"""
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ..utils.trimap_values import TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN

__all__ = ['BandOptions', 'DEFAULT_BAND_WIDTH', 'as_unit_mask', 'band_radius', 'auto_trimap']

# the margin on each side of an edge, as a fraction of the long side (see the module docstring)
DEFAULT_BAND_WIDTH = 0.005


@dataclass(frozen=True)
class BandOptions:
    """How the unknown band of ``auto_trimap`` is drawn.

    Attributes:
        width: margin on each side of the mask's unsure pixels and edges, as a fraction of
            the image's long side (0.005 = 0.5 %; at least one pixel).
        fg_threshold: mask values >= this are sure foreground before the margin (rembg's
            foreground threshold 240 is 240/255 here).
        bg_threshold: mask values <= this are sure background before the margin.
        erode_size: the margin in pixels instead of ``width`` (rembg's erode size); None: use
            ``width``.
    """
    width: float = DEFAULT_BAND_WIDTH
    fg_threshold: float = 0.95
    bg_threshold: float = 0.05
    erode_size: Optional[int] = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.bg_threshold < self.fg_threshold <= 1.0:
            raise ValueError(f'BandOptions: need 0 <= bg_threshold < fg_threshold <= 1, got '
                             f'bg_threshold={self.bg_threshold} fg_threshold={self.fg_threshold}.')
        if self.width < 0 or (self.erode_size is not None and self.erode_size < 0):
            raise ValueError(f'BandOptions: width and erode_size must be >= 0, got '
                             f'width={self.width} erode_size={self.erode_size}.')


def as_unit_mask(mask: np.ndarray, source: str = 'mask') -> np.ndarray:
    """A mask as float32 [H, W] in [0, 1]: uint8 0..255 is scaled, float must lie in [0, 1].

    A uint8 mask holding only 0 and 1 is a label mask (as numpy's ``mask.astype(np.uint8)``
    gives), read as 0 and 1, not as 0 and 1/255.

    >>> as_unit_mask(np.array([[0, 255]], np.uint8))
    array([[0., 1.]], dtype=float32)
    >>> as_unit_mask(np.array([[0, 1]], np.uint8))
    array([[0., 1.]], dtype=float32)
    >>> as_unit_mask(np.array([[0.0, 0.5]]))
    array([[0. , 0.5]], dtype=float32)
    """
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim != 2:
        raise ValueError(f'{source} must be [H, W], got shape {mask.shape}.')
    if mask.dtype == np.uint8:
        labels = mask.size and int(mask.max()) == 1
        return mask.astype(np.float32) * np.float32(1.0 if labels else 1.0 / 255.0)
    if mask.dtype == np.bool_:
        return mask.astype(np.float32)
    if not np.issubdtype(mask.dtype, np.floating):
        raise ValueError(f'{source} must be uint8 (0..255), bool or float in [0, 1], got dtype '
                         f'{mask.dtype}.')
    if mask.size and (float(np.nanmin(mask)) < -1e-3 or float(np.nanmax(mask)) > 1 + 1e-3):
        raise ValueError(f'{source}: float values must lie in [0, 1], got [{float(np.nanmin(mask)):.3g}, '
                         f'{float(np.nanmax(mask)):.3g}] (pass uint8 for 0..255 data).')
    return np.clip(mask, 0.0, 1.0).astype(np.float32, copy=False)


def band_radius(shape: tuple, options: BandOptions) -> int:
    """The margin in pixels for an image of ``shape`` (H, W, ...).

    >>> band_radius((600, 800), BandOptions(width=0.005))
    4
    >>> band_radius((3000, 4000), BandOptions(width=0.005))
    20
    >>> band_radius((600, 800), BandOptions(erode_size=10))
    10
    """
    if options.erode_size is not None:
        return int(options.erode_size)
    return max(1, int(round(options.width * max(shape[0], shape[1]))))


def _farther_than(region: np.ndarray, radius: int) -> np.ndarray:
    """bool [H, W]: pixels of ``region`` more than ``radius`` pixels (Euclidean) from any pixel
    outside it; the image border does not count as outside."""
    if radius <= 0:
        return region.copy()
    # a distance transform costs the same for every radius (an erosion by a 161-pixel ellipse
    # on a 4000x3000 mask does not)
    distance = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance > radius


def auto_trimap(mask: np.ndarray, options: BandOptions = BandOptions()) -> np.ndarray:
    """Trimap from a soft mask: sure where the mask is sure and far from any edge, else unknown.

    Args:
        mask: [H, W] uint8 0..255 or float in [0, 1] (a segmenter's or the user's mask).
        options: band width and thresholds (``BandOptions``).
    Returns:
        uint8 [H, W] in {0, 128, 255}: 255 where mask >= fg_threshold farther than the margin
        from any other pixel, 0 likewise for mask <= bg_threshold, 128 elsewhere.

    >>> mask = np.zeros((1, 9), np.float32); mask[:, 4:] = 1
    >>> auto_trimap(np.repeat(mask, 3, axis=0), BandOptions(erode_size=1))[1]
    array([  0,   0,   0, 128, 128, 255, 255, 255, 255], dtype=uint8)
    >>> soft = np.array([[0, 0, 0, 0.5, 1, 1, 1]] * 3, np.float32)
    >>> auto_trimap(soft, BandOptions(erode_size=1))[1]
    array([  0,   0, 128, 128, 128, 255, 255], dtype=uint8)
    """
    unit = as_unit_mask(mask)
    radius = band_radius(unit.shape, options)
    trimap = np.full(unit.shape, TRIMAP_UNKNOWN, dtype=np.uint8)
    trimap[_farther_than(unit <= options.bg_threshold, radius)] = TRIMAP_BACKGROUND
    trimap[_farther_than(unit >= options.fg_threshold, radius)] = TRIMAP_FOREGROUND
    return trimap

"""The refine chain's numerics: a trimap-based refiner run on the unknown band, tile by tile,
at the photo's full resolution.

A *refiner* is any callable ``refiner(image uint8 [h,w,3] RGB, trimap uint8 [h,w] {0,128,255})
-> alpha float [h,w] in [0,1]`` (a trimap-based network through ``pipeline.predict_alpha``, or a
classical solver). ``refine_unknown`` cuts the photo into tiles of ``TileOptions.tile`` pixels,
runs the refiner only on tiles whose core holds unknown pixels, each with ``margin`` pixels of
context around it, and keeps the refined values of the core's unknown pixels; known pixels keep
the trimap's 0 or 1. So a 4000x3000 photo is refined at 4000x3000, and memory follows the tile,
not the photo (a sparse solver on the whole photo would need tens of GB).

numpy only (no paddle).
"""
from dataclasses import dataclass
from typing import Callable, Iterator, List, Tuple

import numpy as np

from ..utils.trimap_values import TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN

__all__ = ['TrimapRefiner', 'TileOptions', 'Box', 'tile_boxes', 'refine_unknown', 'known_alpha',
           'has_both_known']

TrimapRefiner = Callable[[np.ndarray, np.ndarray], np.ndarray]
Box = Tuple[int, int, int, int]  # top, bottom, left, right (bottom/right exclusive)


@dataclass(frozen=True)
class TileOptions:
    """Tiles for ``refine_unknown``.

    Attributes:
        tile: side of a tile's core in pixels; an image no larger than ``tile + 2 * margin``
            on both sides is refined in one call.
        margin: context around each core (clipped at the image border); closed-form matting's
            solution near a crop edge differs from the whole image's, so cores stay clear of it.
    """
    tile: int = 512
    margin: int = 32

    def __post_init__(self) -> None:
        if self.tile < 16 or self.margin < 0:
            raise ValueError(f'TileOptions: need tile >= 16 and margin >= 0, got tile={self.tile} '
                             f'margin={self.margin}.')


def known_alpha(trimap: np.ndarray) -> np.ndarray:
    """The alpha a trimap fixes: float32 [H,W], 1 where foreground, 0 elsewhere.

    >>> known_alpha(np.array([[0, 128, 255]], np.uint8))
    array([[0., 0., 1.]], dtype=float32)
    """
    return (np.asarray(trimap) == TRIMAP_FOREGROUND).astype(np.float32)


def has_both_known(trimap: np.ndarray) -> bool:
    """Whether ``trimap`` holds sure background and sure foreground: something to refine
    against. A mask that is sure everywhere of one side (the object fills the photo, or is
    absent) has nothing to refine.

    >>> has_both_known(np.array([[0, 128, 255]], np.uint8)), has_both_known(np.array([[128, 255]], np.uint8))
    (True, False)
    """
    trimap = np.asarray(trimap)
    return bool((trimap == TRIMAP_BACKGROUND).any() and (trimap == TRIMAP_FOREGROUND).any())


def _spans(start: int, stop: int, tile: int) -> Iterator[Tuple[int, int]]:
    for low in range(start, stop, tile):
        yield low, min(low + tile, stop)


def _grown_crop(trimap: np.ndarray, core: Box, margin: int) -> Box:
    """``core`` grown by ``margin``, and further (doubling) until the crop holds both sure
    background and sure foreground, or is the whole image: a refiner needs both to refine
    against (closed-form matting refuses a crop without either)."""
    height, width = trimap.shape
    top, bottom, left, right = core
    while True:
        crop = (max(0, top - margin), min(height, bottom + margin),
                max(0, left - margin), min(width, right + margin))
        window = trimap[crop[0]:crop[1], crop[2]:crop[3]]
        if crop == (0, height, 0, width) or has_both_known(window):
            return crop
        margin = max(2 * margin, 16)


def tile_boxes(trimap: np.ndarray, options: TileOptions = TileOptions()) -> List[Tuple[Box, Box]]:
    """(core, crop) boxes covering every unknown pixel of ``trimap`` (uint8 {0,128,255}).

    Cores tile the unknown pixels' bounding box; a core without unknown pixels is left out.
    A crop is its core grown by the margin, and further where that holds no sure background or
    no sure foreground. An image that fits in one crop gives the single box of the whole image.

    >>> trimap = np.zeros((100, 300), np.uint8); trimap[50:, :] = 255; trimap[50, [10, 250]] = 128
    >>> tile_boxes(trimap, TileOptions(tile=100, margin=8))
    [((50, 51, 10, 110), (42, 59, 2, 118)), ((50, 51, 210, 251), (42, 59, 202, 259))]
    >>> tile_boxes(trimap, TileOptions(tile=512, margin=8))
    [((0, 100, 0, 300), (0, 100, 0, 300))]
    >>> trimap[:] = 255; trimap[:10] = 0; trimap[55, 150] = 128   # background far: the crop grows
    >>> tile_boxes(trimap, TileOptions(tile=100, margin=8))
    [((55, 56, 150, 151), (0, 100, 86, 215))]
    """
    unknown = trimap == TRIMAP_UNKNOWN
    height, width = unknown.shape
    if not unknown.any():
        return []
    if max(height, width) <= options.tile + 2 * options.margin:
        whole = (0, height, 0, width)
        return [(whole, whole)]
    rows = np.flatnonzero(unknown.any(axis=1))
    cols = np.flatnonzero(unknown.any(axis=0))
    boxes = []
    for top, bottom in _spans(int(rows[0]), int(rows[-1]) + 1, options.tile):
        for left, right in _spans(int(cols[0]), int(cols[-1]) + 1, options.tile):
            if unknown[top:bottom, left:right].any():
                core = (top, bottom, left, right)
                boxes.append((core, _grown_crop(trimap, core, options.margin)))
    return boxes


def refine_unknown(refiner: TrimapRefiner, image: np.ndarray, trimap: np.ndarray,
                   tiles: TileOptions = TileOptions()) -> np.ndarray:
    """Alpha at full resolution: the trimap's known values, the refiner's in the unknown band.

    Args:
        refiner: see the module docstring; it is called once per tile holding unknown pixels.
        image: uint8 [H, W, 3] RGB.
        trimap: uint8 [H, W] in {0, 128, 255}, the same size.
        tiles: tile size and margin.
    Returns:
        float32 [H, W] in [0, 1].
    """
    if trimap.shape != image.shape[:2]:
        raise ValueError(f'the trimap is {trimap.shape[1]}x{trimap.shape[0]} but the image is '
                         f'{image.shape[1]}x{image.shape[0]}; they must be the same size.')
    unknown = trimap == TRIMAP_UNKNOWN
    alpha = known_alpha(trimap)
    for (top, bottom, left, right), (ct, cb, cl, cr) in tile_boxes(trimap, tiles):
        refined = np.asarray(refiner(image[ct:cb, cl:cr], trimap[ct:cb, cl:cr]), dtype=np.float32)
        if refined.shape != (cb - ct, cr - cl):
            raise ValueError(f'the refiner returned alpha of shape {refined.shape} for a '
                             f'{cr - cl}x{cb - ct} tile; expected [{cb - ct}, {cr - cl}].')
        core = refined[top - ct:bottom - ct, left - cl:right - cl]
        where = unknown[top:bottom, left:right]
        alpha[top:bottom, left:right][where] = np.clip(core[where], 0.0, 1.0)
    return alpha

"""Blur-fusion foreground estimation (Forte & Pitie, ICIP 2021), two-pass variant, in bands.

One pass with box radius r, given current estimates F and B (both start as the image I):

    bF = box_r(F * a) / (box_r(a) + eps)            local mean foreground colour
    bB = box_r(B * (1 - a)) / (box_r(1 - a) + eps)  local mean background colour
    F' = clip(bF + a * (I - a * bF - (1 - a) * bB), 0, 1)

The two-pass variant runs r = 90 on (I, I, I), then r = 6 on (I, F', bB).

Where a is exactly 1 every pass returns I, and where a is 0 the colour is invisible, so only
the soft pixels (0 < a < 1) are computed; that, and two approximations that leave the result
unchanged to ~1e-6 in mean error, keep a 1920x1080 image well under 0.1 s:

- The radius-90 means are smooth at the scale of a few pixels, so pass 1 averages I * a, I
  and a over b x b blocks (b = r // 16; the last blocks of a side not divisible by b average
  the pixels they hold), box-filters at that size and samples the means bilinearly.
- Pass 2's background term box_6(bB * (1 - a)) / box_6(1 - a) equals bB up to bB's variation
  over 6 pixels, which the radius-90 blur made negligible, so pass 1's bB is reused.

Memory is bounded by the band, not the photo: pass 1 reads the image in horizontal bands of
whole blocks and keeps only the block grid (1/b^2 of the pixels); pass 2 reads bands with
``second`` rows of context above and below (a box of size ``second`` reaches at most that far),
and inside a band computes only rectangles around its soft pixels (each with ``second``
pixels of context). Every pixel sees exactly the values it would see in one whole-image pass,
so the result does not depend on the band size (a test checks this to the bit).

Returned colours where a == 0 are 0 (black), as far from the object in the paper's code.
"""
import bisect
import math
from typing import List, Tuple, Union

import cv2
import numpy as np

from ..utils.row_bands import DEFAULT_BAND_PIXELS, row_bands
from ..utils.thread_map import thread_map
from .band_output import FloatOutput, Uint8Output
from .unit_rows import Band, UnitRows

__all__ = ['blur_fusion', 'blur_fusion_bands', 'FIRST_RADIUS', 'SECOND_RADIUS']

FIRST_RADIUS = 90
SECOND_RADIUS = 6
_EPS = 1e-5
# pass 1 runs on blocks small enough that its box kernel still spans this many of them
_MIN_BLOCKS_PER_RADIUS = 16
# soft columns closer than this are computed as one rectangle (fewer, larger OpenCV calls)
_MERGE_GAP = 64
# rectangles span at most this many rows: a thin soft edge gets thin rectangles
_RECT_ROWS = 64
# ...and rectangles of the same columns one above the other are joined up to this many rows
_MAX_MERGED_ROWS = 192
# cv2.remap takes maps of at most 32767 columns: rectangles are cut well below that
_MAX_RECT_WIDTH = 8192

# (mean_fg [hs,ws,3], mean_bg [hs,ws,3], (hs / h, ws / w): grid cells per image pixel)
Grids = Tuple[np.ndarray, np.ndarray, Tuple[float, float]]
BandOutput = Union[FloatOutput, Uint8Output]


def _fuse(image: np.ndarray, alpha: np.ndarray, mean_fg: np.ndarray,
          background: np.ndarray) -> np.ndarray:
    """One blur-fusion update: clip(bF + a (I - a bF - (1 - a) bB), 0, 1), given
    ``background`` = (1 - a) bB; all float32 of one shape (in place on one temporary)."""
    residual = alpha * mean_fg
    np.subtract(image, residual, out=residual)
    residual -= background
    residual *= alpha
    residual += mean_fg
    return np.clip(residual, 0.0, 1.0, out=residual)


def _area_table(src: int, dst: int) -> List[Tuple[int, int, float]]:
    """OpenCV's INTER_AREA weights for shrinking ``src`` samples to ``dst``, as (dst index,
    src index, weight) in the order OpenCV adds them (resize.cpp, computeResizeAreaTab)."""
    scale = 1.0 / (dst / src)
    table = []
    for d in range(dst):
        start = d * scale
        stop = start + scale
        cell = min(scale, src - start)
        first, last = math.ceil(start), min(math.floor(stop), src - 1)
        first = min(first, last)
        if first - start > 1e-3:
            table.append((d, first - 1, float(np.float32((first - start) / cell))))
        table.extend((d, s, float(np.float32(1.0 / cell))) for s in range(first, last))
        if stop - last > 1e-3:
            table.append((d, last, float(np.float32(min(stop - last, 1.0, cell) / cell))))
    return table


class _AreaGrid:
    """``cv2.resize(x, (ws, hs), interpolation=cv2.INTER_AREA)`` of a whole image ``x``
    [h, w(, c)], built from bands of its rows (``add`` them in order).

    When both scales are whole numbers, every grid row averages whole blocks of rows and a
    band of whole blocks is shrunk by OpenCV itself (bit-identical to the whole image).
    Otherwise each band is shrunk across by OpenCV and its rows are added into the grid rows
    with OpenCV's own down weights, in OpenCV's order (identical to within a float rounding).
    """

    def __init__(self, h: int, w: int, hs: int, ws: int, channels: Tuple[int, ...]):
        self.grid = np.empty((hs, ws) + channels, np.float32)
        self.whole_blocks = h % hs == 0 and w % ws == 0
        self.rows_per_cell = h // hs
        self.table = None if self.whole_blocks else _area_table(h, hs)
        self.sources = None if self.table is None else [s for _, s, _ in self.table]

    def add(self, y0: int, band: np.ndarray) -> None:
        """Add the rows ``y0 .. y0 + len(band)`` (whole blocks unless it is the last band)."""
        n, (hs, ws) = band.shape[0], self.grid.shape[:2]
        if self.whole_blocks:
            r0, rows = y0 // self.rows_per_cell, n // self.rows_per_cell
            self.grid[r0:r0 + rows] = cv2.resize(band, (ws, rows), interpolation=cv2.INTER_AREA
                                                 ).reshape((rows, ws) + self.grid.shape[2:])
            return
        across = cv2.resize(band, (ws, n), interpolation=cv2.INTER_AREA).reshape(
            (n, ws) + self.grid.shape[2:])
        first = bisect.bisect_left(self.sources, y0)
        last = bisect.bisect_left(self.sources, y0 + n)
        for k in range(first, last):
            d, s, weight = self.table[k]
            term = np.float32(weight) * across[s - y0]
            if k == 0 or self.table[k - 1][0] != d:
                self.grid[d] = term
            else:
                self.grid[d] += term


def _first_pass_grids(rows: UnitRows, radius: int, band_pixels: int) -> Grids:
    """Pass-1 local means (bF, bB) on the block grid, from I = F = B, reading band by band."""
    h, w = rows.height, rows.width
    block = max(1, radius // _MIN_BLOCKS_PER_RADIUS)
    hs, ws = max(1, h // block), max(1, w // block)
    grids = [_AreaGrid(h, w, hs, ws, c) for c in ((3,), (3,), ())]  # I, I * a, a
    multiple = grids[0].rows_per_cell if grids[0].whole_blocks else 1
    for y0, y1 in row_bands(h, w, band_pixels, multiple=multiple):
        band = rows.rows(y0, y1)
        for grid, x in zip(grids, (band.image, band.image * band.alpha3, band.alpha)):
            grid.add(y0, x)
    mean_i, mean_ia, mean_a = (g.grid for g in grids)
    kernel = (max(1, round(radius * ws / w)),) * 2
    mean_a = cv2.blur(mean_a, kernel)[:, :, None]
    mean_ia = cv2.blur(mean_ia, kernel)
    mean_i = cv2.blur(mean_i, kernel)
    mean_fg = mean_ia / (mean_a + _EPS)
    mean_bg = (mean_i - mean_ia) / (1.0 - mean_a + _EPS)
    return mean_fg, mean_bg, (hs / h, ws / w)


def _three(alpha: np.ndarray) -> np.ndarray:
    """[n, w] -> [n, w, 3] (a contiguous copy: numpy is slow broadcasting over 3 channels)."""
    return cv2.merge([alpha, alpha, alpha])


def _sample_grids(grids: Grids, ys: slice, xs: slice) -> Tuple[np.ndarray, np.ndarray]:
    """The grids' bilinear values at the pixel centres of image rows ``ys`` x columns ``xs``
    -> (bF, bB), each float32 [len(ys), len(xs), 3]."""
    mean_fg, mean_bg, (scale_y, scale_x) = grids
    # pixel centres in the block grid's coordinates (float64 arithmetic, then float32)
    map_x = ((np.arange(xs.start, xs.stop) + 0.5) * scale_x - 0.5).astype(np.float32)
    map_y = ((np.arange(ys.start, ys.stop) + 0.5) * scale_y - 0.5).astype(np.float32)
    map_x, map_y = np.meshgrid(map_x, map_y)
    return tuple(cv2.remap(grid, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                 for grid in (mean_fg, mean_bg))


def _soft_rectangles(soft: np.ndarray) -> List[Tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) rectangles covering every True pixel of ``soft`` [n, w] bool: in each
    group of ``_RECT_ROWS`` rows, the rows from its first to its last soft one times each
    run of soft columns (runs merged across gaps under ``_MERGE_GAP``, cut at
    ``_MAX_RECT_WIDTH``). Small groups keep the rectangles tight around a thin soft edge."""
    rectangles = []
    for g0 in range(0, soft.shape[0], _RECT_ROWS):
        group = soft[g0:g0 + _RECT_ROWS]
        soft_rows = np.flatnonzero(group.any(axis=1))
        if soft_rows.size == 0:
            continue
        y0, y1 = g0 + int(soft_rows[0]), g0 + int(soft_rows[-1]) + 1
        columns = np.flatnonzero(soft[y0:y1].any(axis=0))
        breaks = np.flatnonzero(np.diff(columns) > _MERGE_GAP)
        starts = np.concatenate([columns[:1], columns[breaks + 1]]).tolist()
        ends = (np.concatenate([columns[breaks], columns[-1:]]) + 1).tolist()
        for start, end in zip(starts, ends):
            for x0 in range(start, end, _MAX_RECT_WIDTH):
                rectangles.append((y0, y1, x0, min(x0 + _MAX_RECT_WIDTH, end)))
    return _merge_down(rectangles)


def _merge_down(rectangles: List[Tuple[int, int, int, int]]) -> List[Tuple[int, int, int, int]]:
    """Join each rectangle to the one just above it when both span the same columns (a wide
    soft region becomes tall rectangles: less context computed twice), up to
    ``_MAX_MERGED_ROWS`` rows."""
    merged: List[Tuple[int, int, int, int]] = []
    by_columns = {}
    for y0, y1, x0, x1 in rectangles:
        k = by_columns.get((x0, x1))
        if k is not None and merged[k][1] == y0 and y1 - merged[k][0] <= _MAX_MERGED_ROWS:
            merged[k] = (merged[k][0], y1, x0, x1)
        else:
            by_columns[(x0, x1)] = len(merged)
            merged.append((y0, y1, x0, x1))
    return merged


def _fuse_rectangle(band: Band, rect: Tuple[int, int, int, int], row0: int, grids: Grids,
                    second: int) -> np.ndarray:
    """Both passes over ``rect`` (y0, y1, x0, x1) of ``band``, whose first row is image row
    ``row0``; the band must hold ``second`` rows of context around ``rect`` wherever the
    image has them. Returns float32 [y1-y0, x1-x0, 3]: the estimate at soft pixels, I * a
    elsewhere."""
    y0, y1, x0, x1 = rect
    n, w = band.alpha.shape
    ky0, ky1 = max(0, y0 - second), min(n, y1 + second)
    kx0, kx1 = max(0, x0 - second), min(w, x1 + second)
    window = (slice(ky0, ky1), slice(kx0, kx1))
    img, a, a3 = band.image[window], band.alpha[window], band.alpha3[window]
    mean_fg, mean_bg = _sample_grids(grids, slice(row0 + ky0, row0 + ky1), slice(kx0, kx1))
    background = 1.0 - a3  # (1 - a) bB: the same in both passes, bB being reused
    background *= mean_bg
    # pass 2's F * a: pass 1's estimate at soft pixels, I itself where a = 1, 0 where a = 0
    fg_alpha = _fuse(img, a3, mean_fg, background)
    fg_alpha *= a3
    opaque = a == 1
    if opaque.any():
        np.copyto(fg_alpha, img, where=opaque[:, :, None])
    kernel = (second, second)
    mean_fa = cv2.blur(fg_alpha, kernel)
    np.divide(mean_fa, _three(cv2.blur(a, kernel) + _EPS), out=mean_fa)
    fused = _fuse(img, a3, mean_fa, background)
    core = (slice(y0 - ky0, y1 - ky0), slice(x0 - kx0, x1 - kx0))
    soft = (a[core] > 0) & (a[core] < 1)
    if soft.all():
        return fused[core]
    return np.where(soft[:, :, None], fused[core], img[core] * a3[core])


def blur_fusion_bands(rows: UnitRows, output: BandOutput,
                      radii: Tuple[int, int] = (FIRST_RADIUS, SECOND_RADIUS),
                      band_pixels: int = DEFAULT_BAND_PIXELS) -> None:
    """Two-pass blur fusion over ``rows``, handing each band's result to ``output``.

    Args:
        rows: the image and matte (``UnitRows``: uint8 or float32 arrays, read band by band).
        output: a ``band_output`` class: for each band in turn, ``fill(y0, y1, image,
            alpha)`` (I * a away from soft pixels), then ``put(y, x, values)`` for each
            rectangle around soft pixels (float32 [h, w, 3] in [0, 1]).
        radii: box sizes of the two passes (the paper's 90 and 6).
        band_pixels: about how many pixels a band holds (the result does not depend on it).

    >>> import numpy as np
    >>> from paddlematting.foreground.band_output import FloatOutput
    >>> rng = np.random.default_rng(0)
    >>> image = rng.random((40, 30, 3), dtype=np.float32)
    >>> alpha = rng.random((40, 30), dtype=np.float32)
    >>> outputs = [FloatOutput(40, 30), FloatOutput(40, 30)]
    >>> blur_fusion_bands(UnitRows(image, alpha), outputs[0], band_pixels=300)  # 10-row bands
    >>> blur_fusion_bands(UnitRows(image, alpha), outputs[1], band_pixels=1 << 20)  # one band
    >>> bool(np.array_equal(outputs[0].array, outputs[1].array))
    True
    """
    first, second = radii
    h, w = rows.height, rows.width
    grids = None  # pass 1 runs only once a soft pixel is met
    for y0, y1 in row_bands(h, w, band_pixels):
        c0, c1 = max(0, y0 - second), min(h, y1 + second)
        band = rows.rows(c0, c1)
        own = slice(y0 - c0, y1 - c0)  # the band's own rows, without the context
        output.fill(y0, y1, band.image[own], band.alpha[own])
        soft = (band.alpha[own] > 0) & (band.alpha[own] < 1)
        rectangles = _soft_rectangles(soft)
        if rectangles and grids is None:
            grids = _first_pass_grids(rows, first, band_pixels)

        def fuse(rect: Tuple[int, int, int, int]) -> np.ndarray:
            ry0, ry1, rx0, rx1 = rect
            return _fuse_rectangle(band, (ry0 + y0 - c0, ry1 + y0 - c0, rx0, rx1), c0, grids,
                                   second)

        for (ry0, _, rx0, _), fused in zip(rectangles, thread_map(fuse, rectangles)):
            output.put(y0 + ry0, rx0, fused)


def blur_fusion(image: np.ndarray, alpha: np.ndarray,
                radii: Tuple[int, int] = (FIRST_RADIUS, SECOND_RADIUS),
                band_pixels: int = DEFAULT_BAND_PIXELS) -> np.ndarray:
    """Two-pass blur-fusion foreground estimate.

    Args:
        image: float32 [H, W, 3] in [0, 1] (not modified); uint8 0..255 works too.
        alpha: float32 [H, W] in [0, 1]; or uint8 0..255.
        radii: box sizes of the two passes (the paper's 90 and 6).
        band_pixels: pixels per band of the computation (the result does not depend on it).

    Returns:
        float32 [H, W, 3] in [0, 1]: I where alpha is 1, 0 where alpha is 0, the estimate elsewhere.

    >>> import numpy as np
    >>> image = np.zeros((4, 4, 3), np.float32)
    >>> image[:, :, 0] = 1.0
    >>> alpha = np.full((4, 4), 0.5, np.float32)
    >>> blur_fusion(image, alpha)[0, 0].round(3).tolist()  # no clear pixel: F is the photo
    [1.0, 0.0, 0.0]
    """
    output = FloatOutput(*alpha.shape)
    blur_fusion_bands(UnitRows(image, alpha), output, radii, band_pixels)
    return output.array

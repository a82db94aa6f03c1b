"""Horizontal bands of rows: how full-resolution stages bound their memory by the band, not
the photo.

A 48-megapixel photo is 576 MB as one float32 RGB array; a stage that works on bands of about
``DEFAULT_BAND_PIXELS`` pixels (a 1080p frame is one band, a 48-megapixel photo 23) holds a
few of those bands at a time, whatever the photo's size. numpy only (no paddle), so every layer can use it.
"""
from typing import List, Tuple

__all__ = ['DEFAULT_BAND_PIXELS', 'row_bands']

# about two megapixels per band: each float32 RGB temporary of a band is then ~25 MB, the
# per-band overhead (a few dozen OpenCV calls) stays far below the band's own work, and a
# 1080p frame (2,073,600 pixels) is one band, read once for both blur-fusion passes
DEFAULT_BAND_PIXELS = 1 << 21


def row_bands(height: int, width: int, band_pixels: int = DEFAULT_BAND_PIXELS,
              multiple: int = 1) -> List[Tuple[int, int]]:
    """Split rows ``0..height`` into consecutive bands ``[y0, y1)`` of about ``band_pixels``.

    Args:
        height, width: the image's size (width only sets how many rows make a band).
        band_pixels: the target pixels per band (at least one row, or ``multiple`` rows).
        multiple: every band but the last starts and ends on a multiple of this many rows
            (e.g. the block size of a block-mean grid, so blocks never straddle two bands).
    Returns:
        ``[(0, y1), (y1, y2), ..., (yk, height)]``; one band when the image is small, none
        when ``height`` is 0.

    >>> row_bands(10, 4, band_pixels=12, multiple=2)
    [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    """
    if band_pixels < 1 or multiple < 1:
        raise ValueError(f'row_bands: band_pixels and multiple must be >= 1, got '
                         f'{band_pixels} and {multiple}.')
    rows = max(1, band_pixels // max(1, width))
    rows = max(multiple, rows // multiple * multiple)
    return [(y0, min(height, y0 + rows)) for y0 in range(0, height, rows)]

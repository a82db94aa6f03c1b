"""Pictures for people: the background a user names, and side-by-side panels (the demo).

The new background comes from ``read_background``: an image file, or a plain colour given
as ``#RRGGBB`` or ``r,g,b`` (returned as a 1x1 image, which ``pipeline.outputs.composite``
scales up like any background smaller than the picture). Cut-outs and composites themselves
are made by ``pipeline.outputs``.
"""
import os
import re
from typing import Sequence

import cv2
import numpy as np

from ..pipeline.outputs import DEFAULT_FG_METHOD, composite, cutout_foreground
from ..utils.image_io import read_image

_HEX_COLOUR = re.compile(r'#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})')
_RGB_COLOUR = re.compile(r'\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*')
_COLOUR_FORMS = ('#RRGGBB (six hex digits, e.g. #00b140) or r,g,b (three integers 0..255, '
                 'e.g. 0,177,64)')


def _parse_colour(spec: str, what: str) -> np.ndarray:
    """``#RRGGBB`` or ``r,g,b`` -> uint8 [3] RGB; ValueError naming ``what`` otherwise."""
    hex_match = _HEX_COLOUR.fullmatch(spec.strip())
    if hex_match:
        return np.array([int(part, 16) for part in hex_match.groups()], dtype=np.uint8)
    rgb_match = _RGB_COLOUR.fullmatch(spec)
    if rgb_match:
        values = [int(part) for part in rgb_match.groups()]
        if max(values) <= 255:
            return np.array(values, dtype=np.uint8)
    raise ValueError(f'{what} {spec!r} is not a colour: expected {_COLOUR_FORMS}.')


def read_background(spec: str, what: str = '--background') -> np.ndarray:
    """The background a user asked for: an image file or a colour, as RGB uint8.

    An existing file is always read as an image (any size; ``composite`` fits it to each
    picture). Otherwise a spec starting with ``#`` or containing a comma is a colour:
    ``#RRGGBB`` or ``r,g,b`` with integers 0..255.

    Args:
        spec: a path, ``#RRGGBB`` or ``r,g,b``.
        what: the flag name used in error messages.

    Returns:
        uint8 [Hb, Wb, 3] RGB, values 0..255; a colour gives [1, 1, 3].

    Raises:
        FileNotFoundError: ``spec`` is neither an existing file nor colour-like.
        ValueError: the file cannot be decoded as an image, or the colour is malformed.
    """
    if os.path.isfile(spec):
        try:
            return read_image(spec)
        except (OSError, ValueError) as error:
            # image_io's messages start with the path: '--background bg.png: cannot decode ...'
            raise ValueError(f'{what} {error}') from None
    if spec.lstrip().startswith('#') or ',' in spec:
        return _parse_colour(spec, what)[None, None, :]
    raise FileNotFoundError(f'{what} {spec!r} is neither an existing image file nor a colour; '
                            f'expected an image path, {_COLOUR_FORMS}.')


def side_by_side(panels: Sequence[np.ndarray], gap: int = 8) -> np.ndarray:
    """Concatenate uint8 panels ([H,W] gray or [H,W,3] RGB, same H) left to right.

    Gray panels are repeated over three channels; a white gap of ``gap`` pixels separates them.
    """
    rows = [p if p.ndim == 3 else np.repeat(p[:, :, None], 3, axis=2) for p in panels]
    height = rows[0].shape[0]
    if any(r.shape[0] != height for r in rows):
        raise ValueError(f'side_by_side needs panels of one height, got '
                         f'{[r.shape[0] for r in rows]}.')
    spacer = np.full((height, gap, 3), 255, dtype=np.uint8)
    pieces = []
    for i, row in enumerate(rows):
        if i:
            pieces.append(spacer)
        pieces.append(row.astype(np.uint8, copy=False))
    return np.concatenate(pieces, axis=1)


def labelled(picture: np.ndarray, text: str, height: int = 40) -> np.ndarray:
    """``picture`` (uint8 [H,W,3]) under a white band holding ``text`` (ASCII) in black."""
    band = np.full((height, picture.shape[1], 3), 255, dtype=np.uint8)
    scale = height / 48.0
    cv2.putText(band, text, (6, int(height * 0.72)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                max(1, round(scale * 1.5)), cv2.LINE_AA)
    return np.concatenate([band, picture], axis=0)


def stacked(rows: Sequence[np.ndarray], gap: int = 8) -> np.ndarray:
    """uint8 RGB pictures of one width stacked top to bottom, ``gap`` white rows apart."""
    width = rows[0].shape[1]
    if any(r.shape[1] != width for r in rows):
        raise ValueError(f'stacked needs pictures of one width, got {[r.shape[1] for r in rows]}.')
    spacer = np.full((gap, width, 3), 255, dtype=np.uint8)
    pieces = []
    for i, row in enumerate(rows):
        if i:
            pieces.append(spacer)
        pieces.append(row)
    return np.concatenate(pieces, axis=0)


def matting_showcase(image: np.ndarray, alpha: np.ndarray, background: np.ndarray,
                     fg_method: str = DEFAULT_FG_METHOD) -> np.ndarray:
    """input | predicted alpha | cut-out on ``background`` (colours from ``cutout_foreground``
    with ``fg_method``), as one uint8 RGB picture."""
    if image.shape[:2] != alpha.shape:
        raise ValueError(f'matting_showcase needs an image and alpha of the same size, got image '
                         f'{image.shape[:2]} and alpha {alpha.shape}.')
    return side_by_side([image, alpha, composite(cutout_foreground(image, alpha, fg_method), alpha, background)])

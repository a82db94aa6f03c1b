"""Recognising how a trimap file encodes its three regions.

Two encodings are read:

- gray levels (the usual one): 0 background, 128 (or 127, or anything in between) unknown,
  255 foreground, snapped by thirds of 0..255 so lossy files still read correctly;
- class labels (common in other tools): values within {0, 1, 2} read as 0 background,
  1 unknown, 2 foreground. Read as gray levels they would all be background, and a model
  given such a trimap writes fully transparent mattes while val reports perfect scores.

Any other map whose values are all dark (below a third of 255) but not all zero, e.g.
{0, 1, 3} or {0, 40}, fits neither encoding and is refused rather than guessed at.
"""
import numpy as np

from .trimap_values import TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN

__all__ = ['trimap_lookup', 'LABEL_VALUES', 'BACKGROUND_BELOW', 'FOREGROUND_ABOVE']

LABEL_VALUES = (0, 1, 2)
# gray levels below BACKGROUND_BELOW are background, above FOREGROUND_ABOVE foreground
BACKGROUND_BELOW = 85
FOREGROUND_ABOVE = 170


def trimap_lookup(gray: np.ndarray, source: str = 'trimap') -> np.ndarray:
    """The 256-entry uint8 table mapping ``gray``'s values onto {0, 128, 255}.

    Args:
        gray: the trimap as uint8 [H, W] (before any snapping).
        source: what to name in errors (a path or a sample key).
    Returns:
        ``table`` such that ``table[gray]`` is the trimap in {0, 128, 255}.
    Raises:
        ValueError: the values fit neither encoding (named, with what was expected).
    """
    present = np.bincount(np.asarray(gray, dtype=np.uint8).ravel(), minlength=256) > 0
    table = np.full(256, TRIMAP_UNKNOWN, dtype=np.uint8)
    if present[1:len(LABEL_VALUES)].any() and not present[len(LABEL_VALUES):].any():
        table[0], table[1], table[2] = TRIMAP_BACKGROUND, TRIMAP_UNKNOWN, TRIMAP_FOREGROUND
        return table
    if present[1:].any() and not present[BACKGROUND_BELOW:].any():
        values = np.flatnonzero(present)
        shown = ', '.join(str(v) for v in values[:8]) + (', ...' if len(values) > 8 else '')
        raise ValueError(
            f'{source}: the trimap holds only the values {{{shown}}}: neither a gray-level '
            f'trimap (0 background, 128 unknown, 255 foreground) nor a label trimap '
            f'(0 background, 1 unknown, 2 foreground); save it in one of those encodings.')
    table[:BACKGROUND_BELOW] = TRIMAP_BACKGROUND
    table[FOREGROUND_ABOVE + 1:] = TRIMAP_FOREGROUND
    return table

"""The trimap encoding shared by every layer, and forcing an alpha to a trimap's known regions.

A trimap is a uint8 (or float) image [H, W] with 0 = background, 128 = unknown and
255 = foreground. numpy only, so metrics, datasets, transforms and models can all use it.
"""
from typing import Optional

import numpy as np

TRIMAP_BACKGROUND = 0
TRIMAP_UNKNOWN = 128
TRIMAP_FOREGROUND = 255
TRIMAP_VALUES = (TRIMAP_BACKGROUND, TRIMAP_UNKNOWN, TRIMAP_FOREGROUND)


def force_known_regions(alpha: np.ndarray, trimap: Optional[np.ndarray], opaque: float) -> np.ndarray:
    """Copy of ``alpha`` [H,W] set to 0 where ``trimap`` is background and ``opaque`` where foreground.

    ``opaque`` is the alpha scale's full value (1.0 for [0,1] floats, 255 for uint8). Without a
    trimap the alpha is returned unchanged (not copied).
    """
    if trimap is None:
        return alpha
    trimap = np.asarray(trimap).reshape(alpha.shape)
    alpha = alpha.copy()
    alpha[trimap == TRIMAP_BACKGROUND] = 0
    alpha[trimap == TRIMAP_FOREGROUND] = opaque
    return alpha

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


def force_known_regions(alpha: np.ndarray, trimap: Optional[np.ndarray],
                        opaque: Optional[float] = None) -> np.ndarray:
    """Copy of ``alpha`` [H,W] set to 0 where ``trimap`` is background and ``opaque`` where foreground.

    ``opaque`` is the alpha scale's full value; None picks it from the dtype: 255 for integer
    alphas (uint8 in [0,255]), 1.0 for floats in [0,1]. Without a trimap the alpha is returned
    unchanged (not copied). Done at the original size by the predictors, because forcing
    before a resize would blur the forced values into the unknown band.
    """
    if trimap is None:
        return alpha
    if opaque is None:
        opaque = 255 if np.issubdtype(alpha.dtype, np.integer) else 1.0
    trimap = np.asarray(trimap).reshape(alpha.shape)
    alpha = alpha.copy()
    alpha[trimap == TRIMAP_BACKGROUND] = 0
    alpha[trimap == TRIMAP_FOREGROUND] = opaque
    return alpha

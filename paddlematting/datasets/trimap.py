"""Trimaps generated from an alpha matte: certain background 0, unknown 128, certain foreground 255.

A pixel is foreground only when its whole neighbourhood (the structuring element, applied
``iterations`` times) is fully opaque, background only when that neighbourhood is fully
transparent; everything else, including every fractional alpha, is unknown.
"""
import cv2
import numpy as np

from ..utils.trimap_values import TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN

# the deterministic (validation) band: one pass of a 7 x 7 ellipse, as PaddleSeg Matting uses
EVAL_KERNEL_SIZE = 7
# training draws the ellipse size from [2, 4] and the passes from [5, 14], as PaddleSeg does
TRAIN_KERNEL_SIZES = (2, 5)
TRAIN_ITERATIONS = (5, 15)


def trimap_from_alpha(alpha: np.ndarray, kernel_size: int, iterations: int = 1) -> np.ndarray:
    """Trimap with an unknown band grown around the soft edge of ``alpha``.

    Args:
        alpha: uint8 [H, W], 0..255.
        kernel_size: side of the elliptic structuring element (>= 1).
        iterations: how many times it is applied (>= 1); band width ~ kernel_size * iterations.
    Returns:
        uint8 [H, W] with values in {0, 128, 255}.

    >>> import numpy as np
    >>> alpha = np.zeros((7, 7), np.uint8)
    >>> alpha[2:5, 2:5] = 255
    >>> trimap_from_alpha(alpha, 3).tolist()
    [[0, 0, 0, 0, 0, 0, 0], [0, 0, 128, 128, 128, 0, 0], [0, 128, 128, 128, 128, 128, 0], [0, 128, 128, 255, 128, 128, 0], [0, 128, 128, 128, 128, 128, 0], [0, 0, 128, 128, 128, 0, 0], [0, 0, 0, 0, 0, 0, 0]]
    """
    alpha = np.asarray(alpha)
    if alpha.ndim != 2:
        raise ValueError(f'trimap_from_alpha expects alpha [H, W], got shape {alpha.shape}.')
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(kernel_size), int(kernel_size)))
    opaque = (alpha == 255).astype(np.uint8)
    touched = (alpha > 0).astype(np.uint8)
    sure_fg = cv2.erode(opaque, kernel, iterations=int(iterations), borderType=cv2.BORDER_REPLICATE)
    maybe_fg = cv2.dilate(touched, kernel, iterations=int(iterations),
                          borderType=cv2.BORDER_REPLICATE)
    trimap = np.full(alpha.shape, TRIMAP_UNKNOWN, dtype=np.uint8)
    trimap[maybe_fg == 0] = TRIMAP_BACKGROUND
    trimap[sure_fg == 1] = TRIMAP_FOREGROUND
    return trimap


def eval_trimap(alpha: np.ndarray, kernel_size: int = EVAL_KERNEL_SIZE) -> np.ndarray:
    """Deterministic trimap for validation: uint8 [H, W] in {0, 128, 255}.

    >>> import numpy as np
    >>> alpha = np.zeros((20, 20), np.uint8)
    >>> alpha[5:15, 5:15] = 255
    >>> trimap = eval_trimap(alpha)
    >>> int(trimap[0, 0]), int(trimap[10, 10]), int(trimap[5, 5])  # far out, deep in, the edge
    (0, 255, 128)
    """
    return trimap_from_alpha(alpha, kernel_size, iterations=1)


def random_trimap(alpha: np.ndarray) -> np.ndarray:
    """Training trimap with a random band width (numpy's global generator).

    Returns uint8 [H, W] in {0, 128, 255}.

    >>> import numpy as np
    >>> alpha = np.zeros((64, 64), np.uint8)
    >>> alpha[16:48, 16:48] = 255
    >>> np.random.seed(0)
    >>> trimap = random_trimap(alpha)
    >>> sorted(np.unique(trimap).tolist()), int(trimap[32, 32]), int(trimap[16, 16])
    ([0, 128, 255], 255, 128)
    """
    kernel_size = np.random.randint(*TRAIN_KERNEL_SIZES)
    iterations = np.random.randint(*TRAIN_ITERATIONS)
    return trimap_from_alpha(alpha, kernel_size, iterations)

"""Pictures for people: compositing on a new background and side-by-side panels."""
from typing import Sequence

import numpy as np

from ..datasets.composition import composite_on_background, fit_background


def composite(image: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``alpha * image + (1 - alpha) * background`` as uint8 [H,W,3].

    Args:
        image: uint8 [H, W, 3] RGB.
        alpha: uint8 [H, W] in [0, 255].
        background: uint8 [h, w, 3] RGB of any size (scaled up if smaller, centre-cropped).
    """
    h, w = alpha.shape
    if image.shape[:2] != (h, w):
        raise ValueError(f'composite needs an image and alpha of the same size, got image '
                         f'{image.shape[:2]} and alpha {alpha.shape}.')
    return composite_on_background(image, alpha, fit_background(background, h, w, random_crop=False))


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


def matting_showcase(image: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """input | predicted alpha | cut-out on ``background``, as one uint8 RGB picture."""
    return side_by_side([image, alpha, composite(image, alpha, background)])

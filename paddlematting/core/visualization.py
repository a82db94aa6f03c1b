"""Pictures for people: compositing on a new background and side-by-side panels."""
from typing import Sequence

import cv2
import numpy as np


def cover_resize(background: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale and centre-crop an RGB uint8 background so it exactly covers (height, width)."""
    bh, bw = background.shape[:2]
    scale = max(height / bh, width / bw)
    new_w, new_h = max(width, int(round(bw * scale))), max(height, int(round(bh * scale)))
    resized = cv2.resize(background, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return resized[top:top + height, left:left + width]


def composite(image: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``alpha * image + (1 - alpha) * background`` as uint8 [H,W,3].

    Args:
        image: uint8 [H, W, 3] RGB.
        alpha: uint8 [H, W] in [0, 255].
        background: uint8 [h, w, 3] RGB of any size (resized to cover the image).
    """
    h, w = alpha.shape
    if image.shape[:2] != (h, w):
        raise ValueError(f'composite needs an image and alpha of the same size, got image '
                         f'{image.shape[:2]} and alpha {alpha.shape}.')
    weight = alpha.astype(np.float32)[:, :, None] / 255.0
    bg = cover_resize(background, h, w).astype(np.float32)
    return np.round(weight * image.astype(np.float32) + (1.0 - weight) * bg).astype(np.uint8)


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

"""Compositing a foreground over a new background (Composition-1k style data)."""
import math

import cv2
import numpy as np

from ..utils.row_bands import row_bands


def fit_background(bg: np.ndarray, height: int, width: int, random_crop: bool) -> np.ndarray:
    """Cut a ``height`` x ``width`` background out of ``bg``, enlarging it first if needed.

    A background smaller than the target on either side is scaled up (aspect kept) until both
    sides cover it; a larger one is used at its own scale. The window is drawn at random with
    numpy's global generator when ``random_crop`` is true, else centred (deterministic).

    Args:
        bg: uint8 [Hb, Wb, 3].
    Returns:
        uint8 [height, width, 3].
    """
    bg_h, bg_w = bg.shape[:2]
    scale = max(height / bg_h, width / bg_w)
    if scale > 1:
        # ceil so rounding never leaves the background one pixel short
        new_w = max(width, math.ceil(bg_w * scale))
        new_h = max(height, math.ceil(bg_h * scale))
        bg = cv2.resize(bg, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        bg_h, bg_w = new_h, new_w
    if random_crop:
        top = np.random.randint(bg_h - height + 1)
        left = np.random.randint(bg_w - width + 1)
    else:
        top, left = (bg_h - height) // 2, (bg_w - width) // 2
    return np.ascontiguousarray(bg[top:top + height, left:left + width])


def composite_on_background(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """``alpha * fg + (1 - alpha) * bg``, rounded to uint8.

    Args:
        fg, bg: uint8 [H, W, 3] (same size).
        alpha: uint8 [H, W], 0..255 (255 = opaque foreground).
    Returns:
        uint8 [H, W, 3].
    """
    if fg.shape != bg.shape or fg.shape[:2] != alpha.shape:
        raise ValueError(f'composite_on_background: fg {fg.shape}, bg {bg.shape} and alpha '
                         f'{alpha.shape} must share height and width.')
    out = np.empty(fg.shape, np.uint8)
    # in bands of rows: whole-image float32 temporaries would cost ~40 bytes per pixel
    for y0, y1 in row_bands(*alpha.shape):
        weight = alpha[y0:y1].astype(np.float32)[:, :, None] / np.float32(255.0)
        image = weight * fg[y0:y1].astype(np.float32) + (1 - weight) * bg[y0:y1].astype(np.float32)
        out[y0:y1] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return out

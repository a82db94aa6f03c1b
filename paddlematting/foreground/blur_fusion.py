"""Blur-fusion foreground estimation (Forte & Pitie, ICIP 2021), two-pass variant.

One pass with box radius r, given current estimates F and B (both start as the image I):

    bF = box_r(F * a) / (box_r(a) + eps)            local mean foreground colour
    bB = box_r(B * (1 - a)) / (box_r(1 - a) + eps)  local mean background colour
    F' = clip(bF + a * (I - a * bF - (1 - a) * bB), 0, 1)

The two-pass variant runs r = 90 on (I, I, I), then r = 6 on (I, F', bB).

Where a is exactly 1 every pass returns I, and where a is 0 the colour is invisible, so only
the soft pixels (0 < a < 1) are computed; that, and two approximations that leave the result
unchanged to ~1e-6 in mean error, keep a 1920x1080 image well under 0.1 s:

- The radius-90 means are smooth at the scale of a few pixels, so pass 1 averages I * a, I
  and a over s x s blocks (s = r // 16), box-filters at that size and samples the means
  bilinearly at the soft pixels.
- Pass 2's background term box_6(bB * (1 - a)) / box_6(1 - a) equals bB up to bB's variation
  over 6 pixels, which the radius-90 blur made negligible, so pass 1's bB is reused.

Returned colours where a == 0 are 0 (black), as far from the object in the paper's code.
"""
from typing import Tuple

import cv2
import numpy as np

__all__ = ['blur_fusion', 'FIRST_RADIUS', 'SECOND_RADIUS']

FIRST_RADIUS = 90
SECOND_RADIUS = 6
_EPS = 1e-5
# pass 1 runs on blocks small enough that its box kernel still spans this many of them
_MIN_BLOCKS_PER_RADIUS = 16
# cv2.remap takes maps of at most 32767 columns: sample points are laid out in rows of this many
_REMAP_ROW = 4096


def _fuse(image: np.ndarray, alpha: np.ndarray, mean_fg: np.ndarray, mean_bg: np.ndarray) -> np.ndarray:
    """One blur-fusion update on [n,3] colours: clip(bF + a (I - a bF - (1 - a) bB), 0, 1).

    ``alpha`` is [n, 1]; everything is float32.
    """
    residual = image - alpha * mean_fg - (1.0 - alpha) * mean_bg
    return np.clip(mean_fg + alpha * residual, 0.0, 1.0)


def _sample_bilinear(small: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, count: int) -> np.ndarray:
    """``small`` [hs,ws,3] sampled at float pixel coordinates -> [count, 3] float32."""
    sampled = cv2.remap(small, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return sampled.reshape(-1, 3)[:count]


def _first_pass_means(image: np.ndarray, alpha: np.ndarray, image_alpha: np.ndarray,
                      ys: np.ndarray, xs: np.ndarray, radius: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pass-1 local means (bF, bB), each [n, 3], at the soft pixels (ys, xs), from I=F=B."""
    h, w = alpha.shape
    block = max(1, radius // _MIN_BLOCKS_PER_RADIUS)
    hs, ws = max(1, h // block), max(1, w // block)
    kernel = max(1, round(radius * ws / w))

    def local_mean(x: np.ndarray) -> np.ndarray:
        if (hs, ws) != (h, w):
            x = cv2.resize(x, (ws, hs), interpolation=cv2.INTER_AREA)
        return cv2.blur(x, (kernel, kernel))

    mean_a = local_mean(alpha)[:, :, None]
    mean_ia = local_mean(image_alpha)
    mean_i = local_mean(image)
    mean_fg = mean_ia / (mean_a + _EPS)
    mean_bg = (mean_i - mean_ia) / (1.0 - mean_a + _EPS)

    count = len(ys)
    rows = -(-count // _REMAP_ROW)
    map_x = np.zeros(rows * _REMAP_ROW, np.float32)
    map_y = np.zeros(rows * _REMAP_ROW, np.float32)
    # pixel centres of the full image in the block grid's coordinates
    map_x[:count] = (xs + 0.5) * (ws / w) - 0.5
    map_y[:count] = (ys + 0.5) * (hs / h) - 0.5
    map_x, map_y = map_x.reshape(rows, _REMAP_ROW), map_y.reshape(rows, _REMAP_ROW)
    return (_sample_bilinear(mean_fg, map_x, map_y, count),
            _sample_bilinear(mean_bg, map_x, map_y, count))


def blur_fusion(image: np.ndarray, alpha: np.ndarray, radii: Tuple[int, int] = (FIRST_RADIUS, SECOND_RADIUS)
                ) -> np.ndarray:
    """Two-pass blur-fusion foreground estimate.

    Args:
        image: float32 [H, W, 3] in [0, 1], C-contiguous (not modified).
        alpha: float32 [H, W] in [0, 1].
        radii: box sizes of the two passes (the paper's 90 and 6).

    Returns:
        float32 [H, W, 3] in [0, 1]: I where alpha is 1, 0 where alpha is 0, the estimate elsewhere.

    >>> import numpy as np
    >>> image = np.zeros((4, 4, 3), np.float32)
    >>> image[:, :, 0] = 1.0
    >>> alpha = np.full((4, 4), 0.5, np.float32)
    >>> blur_fusion(image, alpha)[0, 0].round(3).tolist()  # no clear pixel: F is the photo
    [1.0, 0.0, 0.0]
    """
    first, second = radii
    h, w = alpha.shape
    # I * a is both pass 1's input and, away from the soft pixels, pass 2's F * a; it
    # finally becomes the output (I where a = 1, 0 where a = 0)
    image_alpha = cv2.multiply(image, cv2.merge([alpha, alpha, alpha]))
    soft = np.flatnonzero((alpha > 0) & (alpha < 1))
    if soft.size == 0:
        return image_alpha
    ys, xs = np.divmod(soft, w)
    soft_alpha = alpha.reshape(-1)[soft][:, None]
    soft_image = image.reshape(-1, 3)[soft]

    mean_fg, mean_bg = _first_pass_means(image, alpha, image_alpha, ys, xs, first)
    fg_first = _fuse(soft_image, soft_alpha, mean_fg, mean_bg)

    flat = image_alpha.reshape(-1, 3)
    flat[soft] = fg_first * soft_alpha
    # pass 2 reads only windows around soft pixels: filter the box around them, with a
    # margin of one kernel so no window of a soft pixel meets the crop's border
    y0, y1 = max(0, int(ys.min()) - second), min(h, int(ys.max()) + second + 1)
    x0, x1 = max(0, int(xs.min()) - second), min(w, int(xs.max()) + second + 1)
    mean_fa = cv2.blur(image_alpha[y0:y1, x0:x1], (second, second))[ys - y0, xs - x0]
    mean_a = cv2.blur(alpha[y0:y1, x0:x1], (second, second))[ys - y0, xs - x0][:, None]
    flat[soft] = _fuse(soft_image, soft_alpha, mean_fa / (mean_a + _EPS), mean_bg)
    return image_alpha

"""What is made from a matte: the cut-out (foreground colours estimated under it) and the
composite over a new background.

Every cut-out the toolkit writes (predict's RGBA and composite, val's saved composites, the
demo, video composites) takes its colours from ``cutout_foreground``: the photo's own colours
would carry the old background into every semi-transparent pixel (a halo in hair).
"""
import numpy as np

from ..datasets.composition import composite_on_background, fit_background
from ..foreground import METHODS as _FOREGROUND_METHODS, estimate_foreground

# --fg_method choices: an estimator of paddlematting.foreground, or 'none' (the photo's colours)
FG_METHODS = (*_FOREGROUND_METHODS, 'none')
DEFAULT_FG_METHOD = 'blur_fusion'


def cutout_foreground(image: np.ndarray, alpha: np.ndarray, method: str = DEFAULT_FG_METHOD) -> np.ndarray:
    """The colours a cut-out should carry: ``image``'s foreground colours under ``alpha``.

    Args:
        image: uint8 [H, W, 3] RGB.
        alpha: uint8 [H, W] in [0, 255].
        method: one of ``FG_METHODS``; 'none' returns ``image`` itself (its colours still
            hold the old background where alpha is soft).

    Returns:
        uint8 [H, W, 3] RGB (see ``paddlematting.foreground.estimate_foreground``).
    """
    if method == 'none':
        return image
    if method not in FG_METHODS:
        raise ValueError(f'fg_method must be one of {", ".join(FG_METHODS)}, got {method!r}.')
    foreground = estimate_foreground(image, alpha, method)
    return np.rint(foreground * np.float32(255.0)).astype(np.uint8)


def composite(image: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``alpha * image + (1 - alpha) * background`` as uint8 [H,W,3].

    Args:
        image: uint8 [H, W, 3] RGB: the foreground colours, normally ``cutout_foreground``'s.
        alpha: uint8 [H, W] in [0, 255].
        background: uint8 [h, w, 3] RGB of any size (scaled up if smaller, centre-cropped).
    """
    h, w = alpha.shape
    if image.shape[:2] != (h, w):
        raise ValueError(f'composite needs an image and alpha of the same size, got image '
                         f'{image.shape[:2]} and alpha {alpha.shape}.')
    return composite_on_background(image, alpha, fit_background(background, h, w, random_crop=False))

"""Composition loss: re-composite the image with the predicted alpha and compare (DIM)."""
from typing import Optional

import paddle
import paddle.nn as nn

from .mrsd import MRSD


def composite(alpha: paddle.Tensor, fg: paddle.Tensor, bg: paddle.Tensor) -> paddle.Tensor:
    """``alpha * fg + (1 - alpha) * bg``; alpha [N,1,H,W] in [0,1], fg/bg [N,3,H,W] -> [N,3,H,W]."""
    return alpha * fg + (1 - alpha) * bg


class CompositionLoss(nn.Layer):
    """MRSD between ``composite(alpha, fg, bg)`` and the observed image.

    Args:
        eps: passed to MRSD.

    forward(alpha, fg, bg, img, mask=None):
        alpha: float32 [N,1,H,W] predicted alpha; fg, bg, img: float32 [N,3,H,W] in the same
        normalisation; mask: optional [N,1,H,W] (e.g. ``trimap == 128``).
    Returns a scalar float32 tensor (MRSD's masked convention: summed over the 3 channels,
    divided by the mask pixel count).
    """

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.mrsd = MRSD(eps)

    def forward(self, alpha: paddle.Tensor, fg: paddle.Tensor, bg: paddle.Tensor,
                img: paddle.Tensor, mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        return self.mrsd(composite(alpha, fg, bg), img, mask)

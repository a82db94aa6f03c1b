"""MRSD: mean root square difference, a smooth L1-like matting loss (Deep Image Matting)."""
from typing import Optional

import paddle
import paddle.nn as nn

from .reduction import masked_mean


class MRSD(nn.Layer):
    """Mean of ``sqrt((logit - label)^2 + eps)``, optionally over a mask.

    Args:
        eps: keeps the square root differentiable at zero error and guards an empty mask.

    forward(logit, label, mask=None):
        logit: float32 [N, C, H, W]; label: same shape, or [N, H, W] when C == 1.
        mask: bool/float [N, 1, H, W] or [N, H, W] (e.g. ``trimap == 128``), broadcast over C.
    Returns a scalar float32 tensor; with a mask, ``masked_mean``'s convention: summed over all
    C channels but divided by the mask pixel count, so a 3-channel comparison weighs C times a
    1-channel one (as in PaddleSeg).
    """

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, logit: paddle.Tensor, label: paddle.Tensor,
                mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if label.ndim == 3:
            label = label.unsqueeze(1)
        return masked_mean(paddle.sqrt(paddle.square(logit - label) + self.eps), mask, self.eps)

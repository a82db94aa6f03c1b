"""Gradient loss: L1 distance between the Sobel gradient magnitudes of prediction and truth
(PaddleSeg Matting's ``GradientLoss``, used by PP-Matting and PP-MattingV2)."""
from typing import Optional

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .reduction import as_loss_mask

# Sobel x kernel scaled by the sum of its absolute values (8); the y kernel is its transpose
_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], 'float32') / 8.0


class GradientLoss(nn.Layer):
    """Mean absolute difference of Sobel gradient magnitudes.

    Args:
        eps: added under the square root of the magnitude (keeps it differentiable at a flat
            region) and to the mask pixel count.

    forward(logit, label, mask=None):
        logit: float32 [N, C, H, W]; label: same shape, or [N, H, W] when C == 1;
        mask: bool/float [N, 1, H, W] or [N, H, W] (e.g. ``trimap == 128``).
    Returns a scalar float32 tensor. Without a mask: the mean over all elements of
    ``|sobel(logit) - sobel(label)|``. With a mask: both maps are multiplied by the mask
    BEFORE the gradients are taken (so the mask's own edges contribute), and the summed
    difference is divided by ``mask.sum() + eps``.
    ``sobel(x) = sqrt(gx^2 + gy^2 + eps)`` per channel, on a replicate-padded map.
    """

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        # constants, not state: kept out of the state dict so models' layouts are unchanged
        self.register_buffer('kernel_x', paddle.to_tensor(_SOBEL_X[None, None]),
                             persistable=False)
        self.register_buffer('kernel_y', paddle.to_tensor(_SOBEL_X.T.copy()[None, None]),
                             persistable=False)

    def sobel(self, x: paddle.Tensor) -> paddle.Tensor:
        """Sobel gradient magnitude of every channel: [N, C, H, W] -> [N, C, H, W]."""
        if x.ndim != 4:
            raise ValueError(f'GradientLoss expects [N, C, H, W] maps, got shape {list(x.shape)}')
        n, c, h, w = x.shape
        x = F.pad(x.reshape([n * c, 1, h, w]), [1, 1, 1, 1], mode='replicate')
        gx = F.conv2d(x, self.kernel_x.astype(x.dtype))
        gy = F.conv2d(x, self.kernel_y.astype(x.dtype))
        return paddle.sqrt(gx * gx + gy * gy + self.eps).reshape([n, c, h, w])

    def forward(self, logit: paddle.Tensor, label: paddle.Tensor,
                mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if label.ndim == 3:
            label = label.unsqueeze(1)
        if mask is None:
            return F.l1_loss(self.sobel(logit), self.sobel(label), reduction='mean')
        mask = as_loss_mask(mask, logit.dtype)
        diff = F.l1_loss(self.sobel(logit * mask), self.sobel(label * mask), reduction='none')
        return diff.sum() / (mask.sum() + self.eps)

"""Gradient loss: L1 distance between the Sobel gradient magnitudes of prediction and truth."""
from typing import Optional

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...utils import manager


def _sobel_kernels() -> np.ndarray:
    """The x and y Sobel kernels, each divided by its absolute sum (8): float32 [2, 1, 3, 3]."""
    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    kx /= np.abs(kx).sum()
    return np.stack([kx, kx.T])[:, None]


@manager.LOSSES.add_component
class GradientLoss(nn.Layer):
    """L1 between Sobel gradient magnitudes, as PaddleSeg Matting's ``GradientLoss``.

    The magnitude is ``sqrt(gx^2 + gy^2 + eps)`` per channel, with the image edge replicated
    (the kernels are fixed buffers, not parameters, and not part of the state dict).

    Args:
        eps: inside the square root (keeps it differentiable at a flat region) and added to
            the mask count.

    forward(logit, label, mask=None):
        logit: float32 [N, C, H, W]; label: same, or [N, H, W] when C == 1.
        mask: bool/float [N, 1, H, W] or [N, H, W]. With a mask, both maps are multiplied by
            it BEFORE the gradients are taken (so its border counts as an edge), and the
            summed error is divided by ``mask.sum() + eps``; without, the mean error.
    Returns a scalar float32 tensor.
    """

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.register_buffer('kernels', paddle.to_tensor(_sobel_kernels()), persistable=False)

    def sobel(self, x: paddle.Tensor) -> paddle.Tensor:
        """Gradient magnitude of every channel: float32 [N, C, H, W] -> [N, C, H, W]."""
        if x.ndim != 4:
            raise ValueError(f'GradientLoss.sobel expects an NCHW tensor, got shape {x.shape}')
        n, c, h, w = x.shape
        planes = F.pad(x.reshape([n * c, 1, h, w]), [1, 1, 1, 1], mode='replicate')
        gx = F.conv2d(planes, self.kernels[0:1])
        gy = F.conv2d(planes, self.kernels[1:2])
        return paddle.sqrt(gx * gx + gy * gy + self.eps).reshape([n, c, h, w])

    def forward(self, logit: paddle.Tensor, label: paddle.Tensor,
                mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if label.ndim == 3:
            label = label.unsqueeze(1)
        if mask is None:
            return F.l1_loss(self.sobel(logit), self.sobel(label), 'mean')
        if mask.ndim == 3:
            mask = mask.unsqueeze(1)
        # paddle 3 refuses float * bool; the cast is what paddle 2 did implicitly
        mask = mask.astype(logit.dtype)
        mask.stop_gradient = True
        error = F.l1_loss(self.sobel(logit * mask), self.sobel(label * mask), 'none')
        return error.sum() / (mask.sum() + self.eps)

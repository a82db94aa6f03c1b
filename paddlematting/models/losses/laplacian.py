"""Laplacian-pyramid loss (as used by AIM / PaddleSeg Matting's ``LaplacianLoss``)."""
from typing import List, Optional

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .reduction import as_loss_mask

PYRAMID_LEVELS = 5


def pyramid_kernel(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    """PaddleSeg's 5x5 smoothing kernel, float32 [1, 1, size, size], summing to 1.

    Entry (i, j) is proportional to ``g(i) + g(j)`` with ``g(t) = exp(-(t - size//2)^2 /
    sigma^2)``: a SUM of the two 1-D profiles, not the usual separable product. That is what
    the reference (and its trained checkpoints) use, so it is kept.
    """
    if size % 2 != 1:
        raise ValueError(f'pyramid_kernel: size must be odd, got {size}')
    t = np.arange(size, dtype=np.float32) - size // 2
    g = np.exp(t ** 2 / (-2 * sigma ** 2)) ** 2
    kernel = (g[:, None] + g[None, :]).astype(np.float32)
    kernel /= kernel.sum()
    return kernel[None, None]


class LaplacianLoss(nn.Layer):
    """Sum over a 5-level Laplacian pyramid (plus the coarsest residual) of the mean L1 error.

    Each level: smooth with :func:`pyramid_kernel` (edges replicated), keep ``x - smoothed``,
    then 2x2 average-pool the smoothed map for the next level.

    forward(logit, label, mask=None):
        logit: float32 [N, 1, H, W]; label: same, or [N, H, W].
        mask: optional bool/float [N, 1, H, W] or [N, H, W]; both maps are multiplied by it.
    Returns a scalar float32 tensor.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer('kernel', paddle.to_tensor(pyramid_kernel()), persistable=False)

    def pyramid(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        """The 5 band-pass levels and the final low-pass map of x float32 [N, 1, H, W]."""
        pad = self.kernel.shape[-1] // 2
        levels = []
        for _ in range(PYRAMID_LEVELS):
            smoothed = F.conv2d(F.pad(x, [pad] * 4, mode='replicate'), self.kernel)
            levels.append(x - smoothed)
            x = F.avg_pool2d(smoothed, 2)
        levels.append(x)
        return levels

    def forward(self, logit: paddle.Tensor, label: paddle.Tensor,
                mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        if label.ndim == 3:
            label = label.unsqueeze(1)
        if mask is not None:
            mask = as_loss_mask(mask, logit.dtype)
            logit, label = logit * mask, label * mask
        # summed in level order, as the reference does
        return sum(F.l1_loss(a, b) for a, b in zip(self.pyramid(label), self.pyramid(logit)))

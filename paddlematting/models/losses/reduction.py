"""Reducing a per-element loss map to a scalar, optionally over a mask."""
from typing import Optional

import paddle


def as_loss_mask(mask: paddle.Tensor, dtype) -> paddle.Tensor:
    """A bool/float mask [N, 1, H, W] or [N, H, W] as ``dtype`` [N, 1, H, W], with no gradient
    flowing into it (paddle 3 refuses float * bool, so it is cast first)."""
    mask = mask.astype(dtype)
    if mask.ndim == 3:
        mask = mask.unsqueeze(1)
    mask.stop_gradient = True
    return mask


def masked_mean(values: paddle.Tensor, mask: Optional[paddle.Tensor] = None,
                eps: float = 1e-6) -> paddle.Tensor:
    """Scalar mean of ``values`` [N, C, H, W], or ``sum(values * mask) / (sum(mask) + eps)``.

    mask: bool/float [N, 1, H, W] or [N, H, W] (1 = counted), broadcast over C; no gradient
    flows into it. The count is of mask pixels, not multiplied by C (PaddleSeg's convention),
    and eps guards an empty mask.
    """
    if mask is None:
        return values.mean()
    mask = as_loss_mask(mask, values.dtype)
    return (values * mask).sum() / (mask.sum() + eps)

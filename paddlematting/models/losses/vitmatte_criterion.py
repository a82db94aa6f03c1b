"""ViTMatte's training loss (hustvl/ViTMatte's ``MattingCriterion``): unknown-region L1,
known-region L1, a Laplacian-pyramid L1 and a gradient penalty, each with weight 1.

The region terms are scaled by ``N * 512^2 / pixels of the region``, a constant of the
original fixed to its 512x512 training crop: at 512x512 they are the mean L1 over the region,
at another size they carry an extra ``512^2 / (H * W)``. Kept as is, so that the loss values
(and the learning rate that suits them) are the original's. The pyramid's reflect padding
needs every level at least 3 pixels high and wide: crops of 48x48 or more.
"""
from typing import Dict, List

import numpy as np
import paddle
import paddle.nn.functional as F

__all__ = ['vitmatte_losses', 'laplacian_pyramid', 'laplacian_loss', 'gradient_penalty',
           'region_l1', 'unknown_mask', 'PYRAMID_LEVELS']

TRAIN_CROP_PIXELS = 512 * 512  # the original's hard-coded 262144
PYRAMID_LEVELS = 5
GRADIENT_PENALTY = 0.01  # weight of |grad(pred)| in the unknown band
_BINOMIAL = np.array([1, 4, 6, 4, 1], np.float32)
_GAUSS = (np.outer(_BINOMIAL, _BINOMIAL) / 256.0).astype(np.float32)[None, None]
_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)[None, None]
_SOBEL_Y = np.ascontiguousarray(_SOBEL_X.transpose(0, 1, 3, 2))


def unknown_mask(trimap: paddle.Tensor) -> paddle.Tensor:
    """float32 [N,1,H,W]: 1 where the 0..255 trimap is unknown (85 <= t < 170, i.e. 128)."""
    return paddle.logical_and(trimap >= 85, trimap < 170).astype('float32')


def region_l1(pred: paddle.Tensor, gt: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
    """``N * 512^2 / sum(mask) * mean(|pred*mask - gt*mask|)``; 0 for an empty mask."""
    total = mask.sum()
    scale = pred.shape[0] * TRAIN_CROP_PIXELS / paddle.clip(total, min=1.0)
    scale = paddle.where(total > 0, scale, paddle.zeros_like(scale))
    return scale * paddle.abs(pred * mask - gt * mask).mean()


def _blur(x: paddle.Tensor) -> paddle.Tensor:
    """5x5 binomial blur with reflect padding 2 (mirror without the edge): [N,1,H,W]."""
    kernel = paddle.to_tensor(_GAUSS, dtype=x.dtype)
    return F.conv2d(F.pad(x, [2, 2, 2, 2], mode='reflect'), kernel)


def laplacian_pyramid(x: paddle.Tensor, levels: int = PYRAMID_LEVELS) -> List[paddle.Tensor]:
    """The band-pass levels of x [N,1,H,W]: at each level the map is cropped to even sides,
    ``d = blur(c)[::2, ::2]``, ``L = c - blur(4 d upsampled with zeros)``, and ``c = d`` next."""
    bands = []
    for _ in range(levels):
        h, w = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
        x = x[:, :, :h, :w]
        down = _blur(x)[:, :, ::2, ::2]
        n, c = down.shape[0], down.shape[1]
        # zeros between the samples: interleave [d, 0] along W, then along H
        up = paddle.stack([down * 4.0, paddle.zeros_like(down)], axis=-1).reshape([n, c, h // 2, w])
        up = paddle.stack([up, paddle.zeros_like(up)], axis=-2).reshape([n, c, h, w])
        bands.append(x - _blur(up))
        x = down
    return bands


def laplacian_loss(pred: paddle.Tensor, gt: paddle.Tensor) -> paddle.Tensor:
    """``(1/5) sum_l 2^l mean|Lp_l - Lg_l|`` over the whole image (no mask)."""
    pairs = zip(laplacian_pyramid(pred), laplacian_pyramid(gt))
    return sum((2.0 ** level) * paddle.abs(a - b).mean()
               for level, (a, b) in enumerate(pairs)) / PYRAMID_LEVELS


def _sobel(x: paddle.Tensor):
    """Unnormalised Sobel cross-correlations (zero padding 1): (gx, gy), each [N,1,H,W]."""
    gx = F.conv2d(x, paddle.to_tensor(_SOBEL_X, dtype=x.dtype), padding=1)
    gy = F.conv2d(x, paddle.to_tensor(_SOBEL_Y, dtype=x.dtype), padding=1)
    return gx, gy


def gradient_penalty(pred: paddle.Tensor, gt: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
    """Sobel L1 in the unknown band plus 0.01 |grad pred| there, scaled as ``region_l1``."""
    (px, py), (gx, gy) = _sobel(pred), _sobel(gt)
    return (region_l1(px, gx, mask) + region_l1(py, gy, mask)
            + GRADIENT_PENALTY * (region_l1(px, paddle.zeros_like(px), mask)
                                  + region_l1(py, paddle.zeros_like(py), mask)))


def vitmatte_losses(pred: paddle.Tensor, gt: paddle.Tensor,
                    trimap: paddle.Tensor) -> Dict[str, paddle.Tensor]:
    """The four terms and their sum ``all`` (scalar float32 tensors).

    Args:
        pred: float32 [N,1,H,W] in (0, 1), the model's sigmoid output.
        gt: float32 [N,1,H,W] (or [N,H,W]) alpha in [0, 1].
        trimap: float32 [N,1,H,W] (or [N,H,W]) in 0..255; 128 marks the unknown band.
    """
    gt = gt.unsqueeze(1) if gt.ndim == 3 else gt
    trimap = trimap.unsqueeze(1) if trimap.ndim == 3 else trimap
    unknown = unknown_mask(trimap)
    terms = {'unknown_l1_loss': region_l1(pred, gt, unknown),
             'known_l1_loss': region_l1(pred, gt, 1.0 - unknown),
             'loss_pha_laplacian': laplacian_loss(pred, gt),
             'loss_gradient_penalty': gradient_penalty(pred, gt, unknown)}
    terms['all'] = sum(terms.values())
    return terms

"""BiRefNet's training loss, as the original's ``loss.py`` (PixLoss) and ``train.py``
(gradient-reference BCE) compute it.

Each of the four training outputs (side logits at strides 32/16/8 and the final logit) is
resized to the ground truth (bilinear, align_corners=True) and passed through a sigmoid;
per output the loss is ``Σ λ_t · term_t`` over:

- ``bce``: mean binary cross-entropy, logs clamped at -100 (torch's ``nn.BCELoss``);
- ``iou``: per sample ``1 − Σpg / (Σg + Σp − Σpg)``, summed over the batch;
- ``ssim``: ``1 − (1 + S) / 2`` (since Oct 2024) or ``1 − S`` (the form the published
  checkpoints were trained with), S the mean SSIM map (11x11 Gaussian σ 1.5, zero padding);
- ``mae``: mean |p − g|.

The gradient reference adds, for each of the three gradient predictions,
``BCE(sigmoid(resize(pred)), sigmoid(label))`` with label = Laplacian(mean over channels of
the image) · resize(side logit) (weight 1).
"""
from dataclasses import dataclass, fields
from typing import Dict, List, Optional

import numpy as np
import paddle
import paddle.nn.functional as F

from ..layers import resize_align_corners

__all__ = ['BiRefNetLossOptions', 'LOSS_PRESETS', 'birefnet_loss', 'pixel_terms', 'gdt_term',
           'laplacian5', 'ssim_index']

_LOG_FLOOR = -100.0  # nn.BCELoss clamps each log at -100
_SSIM_C1, _SSIM_C2 = 0.01 ** 2, 0.03 ** 2
_SSIM_SIZE, _SSIM_SIGMA = 11, 1.5

# λ of the original: 'general' = task General/General-2K at HEAD, 'dis5k' = the HEAD default
# task, 'general_2024' = the one dict of Jul-Aug 2024 (SSIM then 1 − S), which trained the
# published general checkpoints
LOSS_PRESETS = {
    'general': dict(bce=30.0, iou=0.5, ssim=10.0, mae=100.0, ssim_form='half'),
    'dis5k': dict(bce=30.0, iou=0.5, ssim=10.0, mae=0.0, ssim_form='half'),
    'general_2024': dict(bce=30.0, iou=0.5, ssim=10.0, mae=0.0, ssim_form='one_minus'),
}
_SSIM_FORMS = ('half', 'one_minus')


@dataclass(frozen=True)
class BiRefNetLossOptions:
    """The loss weights. ``ssim_form``: 'half' = 1 − (1 + S)/2, 'one_minus' = 1 − S."""
    bce: float = 30.0
    iou: float = 0.5
    ssim: float = 10.0
    mae: float = 100.0
    ssim_form: str = 'half'
    gdt: float = 1.0

    def __post_init__(self):
        if self.ssim_form not in _SSIM_FORMS:
            raise ValueError(f'model.loss.ssim_form is {self.ssim_form!r}; expected one of '
                             f'{", ".join(repr(f) for f in _SSIM_FORMS)}')

    @classmethod
    def from_config(cls, section: Optional[dict]) -> 'BiRefNetLossOptions':
        """From a config's ``model.loss``: ``{preset: NAME}`` (``LOSS_PRESETS``) and/or
        explicit fields; None gives the 'general' preset."""
        section = dict(section or {})
        preset = section.pop('preset', 'general')
        if preset not in LOSS_PRESETS:
            raise ValueError(f'model.loss.preset is {preset!r}; expected one of '
                             f'{", ".join(repr(p) for p in LOSS_PRESETS)}')
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ValueError(f'model.loss has unknown keys {unknown}; expected preset or '
                             f'any of {sorted(known)}')
        return cls(**{**LOSS_PRESETS[preset], **section})


def _bce(p: paddle.Tensor, g: paddle.Tensor) -> paddle.Tensor:
    """Mean BCE of probabilities ``p`` against targets ``g`` (differentiable in both)."""
    log_p = paddle.clip(paddle.log(p), min=_LOG_FLOOR)
    log_q = paddle.clip(paddle.log(1.0 - p), min=_LOG_FLOOR)
    return paddle.mean(-(g * log_p + (1.0 - g) * log_q))


def _iou(p: paddle.Tensor, g: paddle.Tensor) -> paddle.Tensor:
    # per-sample sums in float64: Paddle's float32 sum over axes [1, 2, 3] of a 128² map
    # drifts by 1e-5 relative (torch's pairwise sum does not); the result is float32
    p64, g64 = p.astype('float64'), g.astype('float64')
    inter = paddle.sum(p64 * g64, axis=[1, 2, 3])
    union = paddle.sum(g64, axis=[1, 2, 3]) + paddle.sum(p64, axis=[1, 2, 3]) - inter
    return paddle.sum(1.0 - inter / union).astype('float32')


def _gaussian_window(channels: int) -> paddle.Tensor:
    """The normalised 11x11 Gaussian (σ 1.5), one per channel: float32 [C, 1, 11, 11]."""
    x = np.arange(_SSIM_SIZE, dtype=np.float64) - _SSIM_SIZE // 2
    g = np.exp(-x ** 2 / (2 * _SSIM_SIGMA ** 2))
    g /= g.sum()
    w = np.outer(g, g).astype(np.float32)
    return paddle.to_tensor(np.tile(w[None, None], (channels, 1, 1, 1)))


def ssim_index(p: paddle.Tensor, g: paddle.Tensor) -> paddle.Tensor:
    """S: the mean SSIM map of [N,C,H,W] ``p`` and ``g`` (per-channel Gaussian windows)."""
    c = p.shape[1]
    window = _gaussian_window(c)

    def blur(t):
        return F.conv2d(t, window, padding=_SSIM_SIZE // 2, groups=c)
    mu_p, mu_g = blur(p), blur(g)
    var_p = blur(p * p) - mu_p * mu_p
    var_g = blur(g * g) - mu_g * mu_g
    cov = blur(p * g) - mu_p * mu_g
    ssim_map = ((2 * mu_p * mu_g + _SSIM_C1) * (2 * cov + _SSIM_C2)
                / ((mu_p * mu_p + mu_g * mu_g + _SSIM_C1) * (var_p + var_g + _SSIM_C2)))
    return paddle.mean(ssim_map)


def pixel_terms(logit: paddle.Tensor, gt: paddle.Tensor,
                ssim_form: str = 'half') -> Dict[str, paddle.Tensor]:
    """The unweighted PixLoss terms of one output: ``logit`` [N,1,h,w] (any size; resized to
    the gt), ``gt`` [N,1,H,W] (clamped to [0,1]). -> {'bce', 'iou', 'ssim', 'mae'} scalars."""
    p = F.sigmoid(resize_align_corners(logit, gt.shape[-2:]))
    g = paddle.clip(gt, 0.0, 1.0)
    s = ssim_index(p, g)
    return {'bce': _bce(p, g), 'iou': _iou(p, g),
            'ssim': 1.0 - (1.0 + s) / 2.0 if ssim_form == 'half' else 1.0 - s,
            'mae': paddle.mean(paddle.abs(p - g))}


def gdt_term(pred: paddle.Tensor, label: paddle.Tensor) -> paddle.Tensor:
    """The gradient-reference BCE of one level: pred [N,1,h,w] logit, label [N,1,H,W]."""
    p = F.sigmoid(resize_align_corners(pred, label.shape[-2:]))
    return _bce(p, F.sigmoid(label))


def laplacian5(x: paddle.Tensor) -> paddle.Tensor:
    """kornia's ``laplacian(x, 5)`` (normalised): ones(5,5) with centre −24, divided by 48,
    reflect padding. [N,1,H,W] -> [N,1,H,W]."""
    k = np.ones((5, 5), np.float32)
    k[2, 2] = -24.0
    kernel = paddle.to_tensor((k / 48.0)[None, None])
    return F.conv2d(F.pad(x, [2, 2, 2, 2], mode='reflect'), kernel)


def birefnet_loss(outputs: Dict[str, List[paddle.Tensor]], gt: paddle.Tensor,
                  options: BiRefNetLossOptions) -> Dict[str, paddle.Tensor]:
    """The total training loss of BiRefNet's train-mode ``outputs`` ('logits' [4 logits],
    'gdt_pred', 'gdt_label') against ``gt`` [N,1,H,W] in [0,1].

    Returns scalars: each weighted term summed over the four outputs ('bce', 'iou', 'ssim',
    'mae'), 'pix' (their sum), 'gdt' (the gradient-reference BCE summed over the levels)
    and 'all' = pix + gdt·λ_gdt.
    """
    weights = {'bce': options.bce, 'iou': options.iou, 'ssim': options.ssim, 'mae': options.mae}
    sums = {name: 0.0 for name in weights}
    for logit in outputs['logits']:
        terms = pixel_terms(logit, gt, options.ssim_form)
        for name, weight in weights.items():
            if weight:
                sums[name] = sums[name] + weight * terms[name]
    losses = {name: value for name, value in sums.items() if weights[name]}
    losses['pix'] = sum(losses.values())
    losses['gdt'] = sum(gdt_term(p, l) for p, l in zip(outputs['gdt_pred'], outputs['gdt_label']))
    losses['all'] = losses['pix'] + options.gdt * losses['gdt']
    return losses

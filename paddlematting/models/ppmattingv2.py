"""PP-MattingV2: real-time trimap-free matting (PaddleSeg Matting, 2022), an STDC backbone,
a double pyramid pool module with small transformers (DPP) for global context, and a
decoder of multi-level feature fusions (MLFF) from stride 32 back to full resolution.

Data flow (strides relative to the input)::

    backbone -> f2, f4, f8, f16, f32
    dpp([f4, f8, f16, f32])                              -> d (stride 64)
    mlff32x([f32, d])           at f32's size           -> x32
    mlff16x([f16, x32, d])      at f16's size           -> x16
    mlff8x([f8, x16, d])        at f8's size            -> x8   (-> alpha_8x head, training)
    mlff4x([f4, x8, area(img)]) at f4's size            -> x4
    mlff2x([f2, x4, area(img)]) at f2's size            -> x2
    head([bilinear(x2, input size), img])               -> alpha

The input height and width must be multiples of 32 and at least 64 (the DPP pools the
stride-4 feature with a 16x16 window); val configs ensure it with ``ResizeToIntMult``.
"""
from typing import Dict, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..config import manager
from ..utils.trimap_values import TRIMAP_UNKNOWN
from .layers import resize_bilinear
from .losses.gradient import GradientLoss
from .losses.mrsd import MRSD
from .ppmattingv2_blocks import MLFF, DoublePyramidPoolModule, MattingHead

_SIZE_MULTIPLE = 32
_MIN_SIZE = 64
# PaddleSeg weighs the unknown band's alpha terms twice on top of the whole-image terms
_BAND_WEIGHT = 2.0
# width of the stride-8 auxiliary head (fixed in PaddleSeg)
_HEAD_8X_CHANNELS = 32


def _area_resize(x: paddle.Tensor, like: paddle.Tensor) -> paddle.Tensor:
    """Area (adaptive average) resize of ``x`` [N,C,H,W] to ``like``'s height and width."""
    # a list of two scalar tensors: the one size form 'area' accepts for dynamic export shapes
    size = paddle.shape(like)
    return F.interpolate(x, size=[size[2], size[3]], mode='area')


@manager.MODELS.add_component
class PPMattingV2(nn.Layer):
    """PP-MattingV2 matting network.

    Args:
        backbone: a backbone with ``feat_channels`` (5 ints) returning 5 features at strides
            2..32 (STDC1 in PaddleSeg's config: 32/64/256/512/1024).
        pretrained: whole-model weights (path or URL), stored for the model builder to load.
        dpp_len_trans: transformer depth in the DPP (an int, or one per bin size).
        dpp_index: which backbone features feed the DPP.
        dpp_mid_channel, dpp_output_channel: DPP widths.
        dpp_bin_sizes: the DPP's second-pyramid pool sizes.
        dpp_mlp_ratios, dpp_attn_ratio: DPP transformer width ratios.
        dpp_merge_type: 'add' or 'concat' (how the DPP merges its pyramid branches).
        mlff_merge_type: 'add' or 'concat' (how MLFF32x/16x/8x merge their inputs; MLFF4x
            and MLFF2x always concatenate).
        decoder_channels: output widths of MLFF32x, 16x, 8x, 4x, 2x.
        head_channel: width of the full-resolution head.

    Call convention (differs from PaddleSeg, whose train forward returns
    ``(logit_dict, loss_dict)``): ``forward({'img': [N,3,H,W] float32 normalised})``
    returns in eval mode alpha float32 [N,1,H,W] in (0,1), and in train mode the logit dict
    ``{'alpha': [N,1,H,W], 'alpha_8x': [N,1,H/8,W/8]}`` (both in (0,1)). The trainer then
    calls ``loss(logit_dict, batch)``, which computes exactly PaddleSeg's loss dict from the
    same logits, so the values, gradients and BN statistics equal PaddleSeg's (one forward).
    """

    input_names = ('img',)

    def __init__(self, backbone: nn.Layer, pretrained: Optional[str] = None,
                 dpp_len_trans: int = 1, dpp_index: Sequence[int] = (1, 2, 3, 4),
                 dpp_mid_channel: int = 256, dpp_output_channel: int = 512,
                 dpp_bin_sizes: Sequence[int] = (2, 4, 6), dpp_mlp_ratios: float = 2,
                 dpp_attn_ratio: float = 2, dpp_merge_type: str = 'concat',
                 mlff_merge_type: str = 'concat',
                 decoder_channels: Sequence[int] = (128, 96, 64, 32, 32),
                 head_channel: int = 32):
        super().__init__()
        channels = list(backbone.feat_channels)
        if len(channels) != 5:
            raise ValueError('PPMattingV2 needs a backbone with 5 feature levels (strides 2..32), '
                             f'got feat_channels={channels}')
        if not dpp_index or max(dpp_index) >= len(channels) or min(dpp_index) < 0:
            raise ValueError(f'dpp_index must pick backbone features 0..4, got {list(dpp_index)}')
        if len(decoder_channels) != 5:
            raise ValueError(f'decoder_channels must list 5 widths (MLFF 32x..2x), '
                             f'got {list(decoder_channels)}')
        self.backbone = backbone
        self.dpp_index = list(dpp_index)
        d, dec = dpp_output_channel, list(decoder_channels)
        self.dpp = DoublePyramidPoolModule(
            stride=2, input_channel=sum(channels[i] for i in self.dpp_index),
            mid_channel=dpp_mid_channel, output_channel=d, len_trans=dpp_len_trans,
            bin_sizes=dpp_bin_sizes, mlp_ratio=dpp_mlp_ratios, attn_ratio=dpp_attn_ratio,
            merge_type=dpp_merge_type)
        self.mlff32x = MLFF([channels[4], d], [d, d], dec[0], mlff_merge_type)
        self.mlff16x = MLFF([channels[3], dec[0], d], [dec[0]] * 3, dec[1], mlff_merge_type)
        self.mlff8x = MLFF([channels[2], dec[1], d], [dec[1]] * 3, dec[2], mlff_merge_type)
        # the two finest levels also see the image itself (3 channels)
        self.mlff4x = MLFF([channels[1], dec[2], 3], [dec[2], dec[2], 3], dec[3])
        self.mlff2x = MLFF([channels[0], dec[3], 3], [dec[3], dec[3], 3], dec[4])
        self.matting_head_mlff8x = MattingHead(dec[2], _HEAD_8X_CHANNELS)
        self.matting_head_mlff2x = MattingHead(dec[4] + 3, head_channel, num_convs=2)
        # stateless loss functions (no state-dict entries)
        self.mrsd = MRSD()
        self.gradient_loss = GradientLoss()
        self.pretrained = pretrained

    def forward(self, inputs: Dict[str, paddle.Tensor]):
        img = inputs['img']
        h, w = img.shape[-2:]
        # dynamic (-1) sizes at export time cannot be checked here
        if any(isinstance(s, int) and s > 0 and (s % _SIZE_MULTIPLE or s < _MIN_SIZE)
               for s in (h, w)):
            raise ValueError(
                f'PPMattingV2 needs an input height and width that are multiples of '
                f'{_SIZE_MULTIPLE} and at least {_MIN_SIZE}, got {h}x{w}; resize with the '
                f'ResizeToIntMult transform (mult_int: {_SIZE_MULTIPLE}) first')
        f2, f4, f8, f16, f32 = feats = self.backbone(img)
        dpp = self.dpp([feats[i] for i in self.dpp_index])
        x = self.mlff32x([f32, dpp], paddle.shape(f32)[2:])
        x = self.mlff16x([f16, x, dpp], paddle.shape(f16)[2:])
        x8 = self.mlff8x([f8, x, dpp], paddle.shape(f8)[2:])
        x = self.mlff4x([f4, x8, _area_resize(img, f4)], paddle.shape(f4)[2:])
        x = self.mlff2x([f2, x, _area_resize(img, f2)], paddle.shape(f2)[2:])
        x = resize_bilinear(x, paddle.shape(img)[2:])
        alpha = self.matting_head_mlff2x(paddle.concat([x, img], axis=1))
        if self.training:
            return {'alpha': alpha, 'alpha_8x': self.matting_head_mlff8x(x8)}
        return alpha

    def loss(self, logit_dict: Dict[str, paddle.Tensor],
             label_dict: Dict[str, paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """PP-MattingV2's training losses (scalar float32 tensors), as PaddleSeg computes them.

        Args:
            logit_dict: the train-mode output of ``forward``.
            label_dict: 'alpha' [N,1,H,W] in [0,1], 'trimap' [N,1,H,W] in {0,128,255}.

        Returns:
            alpha_8x_mrsd, alpha_8x_grad: MRSD and gradient loss of ``alpha_8x`` against the
                area-downscaled alpha; alpha_8x = their sum.
            alpha_mrsd, alpha_grad: each the whole-image term plus 2x the same term over the
                unknown band (trimap == 128); alpha = their sum.
            all = alpha + alpha_8x.
        """
        alpha_true = label_dict['alpha']
        pred_8x, pred = logit_dict['alpha_8x'], logit_dict['alpha']
        true_8x = F.interpolate(alpha_true, size=pred_8x.shape[-2:], mode='area')
        losses = {'alpha_8x_mrsd': self.mrsd(pred_8x, true_8x),
                  'alpha_8x_grad': self.gradient_loss(pred_8x, true_8x)}
        losses['alpha_8x'] = losses['alpha_8x_mrsd'] + losses['alpha_8x_grad']
        band = label_dict['trimap'] == TRIMAP_UNKNOWN
        losses['alpha_mrsd'] = (self.mrsd(pred, alpha_true)
                                + _BAND_WEIGHT * self.mrsd(pred, alpha_true, band))
        losses['alpha_grad'] = (self.gradient_loss(pred, alpha_true)
                                + _BAND_WEIGHT * self.gradient_loss(pred, alpha_true, band))
        losses['alpha'] = losses['alpha_mrsd'] + losses['alpha_grad']
        losses['all'] = losses['alpha'] + losses['alpha_8x']
        return losses

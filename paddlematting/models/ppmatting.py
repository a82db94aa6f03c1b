"""PP-Matting: trimap-free matting with a semantic context branch and a high-resolution detail
branch (Chen et al., "PP-Matting: High-Accuracy Natural Image Matting", arXiv:2204.09433), as in
PaddleSeg's ``Matting/ppmatting`` (HRNet_W18 / HRNet_W48 configs).

How the prediction is formed
----------------------------
The semantic branch (SCB, on the stride-32 backbone feature) classifies every pixel as
foreground (0), transition (1) or background (2); the detail branch (HRDB, on the stride-2
and stride-4 features resized to full resolution) predicts a detail alpha. The matte is
``alpha = detail * [argmax == 1] + [argmax == 0]``: exactly 1 / 0 in the predicted
foreground / background and the detail alpha in the transition band. Because of the argmax,
a pixel whose two top class scores nearly tie may flip between 0/1 and the detail value
under float32 rounding differences; compare ``semantic`` and ``detail`` first.

What PPMatting needs from a backbone
------------------------------------
``backbone(img)`` returns a list of feature maps whose first two are at strides 2 and 4 and
whose last is at stride 32; ``backbone.feat_channels`` lists their channels. HRNet gives
[64, 18, 36, 72, 144] (W18) or [64, 48, 96, 192, 384] (W48).

Input size
----------
H and W must be multiples of 32, as in PaddleSeg (its val configs use
``ResizeToIntMult: 32``): the SCB upsamples the stride-32 feature by exactly 32, and its class
map must line up with the full-resolution detail map. Other sizes raise a ValueError.
"""
from typing import Dict, List, Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..config import manager
from ..utils.trimap_values import TRIMAP_BACKGROUND, TRIMAP_UNKNOWN
from .layers import resize_bilinear
from .losses.composition import composite
from .losses.gradient import GradientLoss
from .losses.mrsd import MRSD
from .ppmatting_blocks import HighResolutionDetailBranch, SemanticContextBranch

__all__ = ['PPMatting']

# the network downsamples 5 times by 2 and the SCB upsamples 5 times by 2
_SIZE_MULTIPLE = 32
# semantic classes (the SCB's channel order)
CLASS_FG, CLASS_TRANSITION, CLASS_BG = 0, 1, 2
# added to the softmax before the log of the semantic NLL loss (PaddleSeg's value)
_LOG_EPS = 1e-6
# 'all' weighs the three groups equally by a quarter (PaddleSeg's weights)
_GROUP_WEIGHT = 0.25


@paddle.jit.not_to_static  # plain Python on the (possibly -1) static sizes
def check_input_size(h, w, model_name: str, multiple: int = _SIZE_MULTIPLE) -> None:
    """Raise a ValueError unless the static sizes h, w are multiples of ``multiple``
    (dynamic sizes, -1 or tensors at export time, cannot be checked and pass)."""
    if any(isinstance(s, int) and s > 0 and s % multiple for s in (h, w)):
        raise ValueError(
            f'{model_name} needs an input height and width that are multiples of {multiple}, '
            f'got {h}x{w}; resize with the ResizeToIntMult transform (mult_int: {multiple}) first')


def fuse_alpha(semantic: paddle.Tensor, detail: paddle.Tensor) -> paddle.Tensor:
    """``detail * [argmax == transition] + [argmax == fg]``.

    semantic float32 [N, 3, H, W] (class scores or probabilities), detail float32 [N, 1, H, W]
    in [0, 1] -> alpha float32 [N, 1, H, W] in [0, 1]. No gradient flows through the argmax.
    """
    index = paddle.argmax(semantic, axis=1, keepdim=True)
    transition = (index == CLASS_TRANSITION).astype(detail.dtype)
    foreground = (index == CLASS_FG).astype(detail.dtype)
    return detail * transition + foreground


def semantic_labels(trimap: paddle.Tensor) -> paddle.Tensor:
    """Trimap float32 [N, 1, H, W] in {0, 128, 255} -> class labels int64 [N, H, W]
    (255 -> 0 foreground, 128 -> 1 transition, 0 -> 2 background)."""
    transition = (trimap == TRIMAP_UNKNOWN).astype('int64')
    background = (trimap == TRIMAP_BACKGROUND).astype('int64')
    return (transition + background * CLASS_BG).squeeze(1)


@manager.MODELS.add_component
class PPMatting(nn.Layer):
    """PP-Matting.

    Args:
        backbone: a backbone with ``feat_channels``, returning features at strides 2, 4, ...,
            32 (first two and last are used; see the module docstring).
        pretrained: path or URL of whole-model weights (loaded strictly), or None.

    ``forward({'img': [N,3,H,W] float32 normalised})``, H and W multiples of 32:

    * eval mode returns alpha float32 [N,1,H,W] in [0,1];
    * train mode returns the logit dict ``{'semantic': [N,3,H,W] softmax probabilities,
      'detail': [N,1,H,W] in (0,1), 'fusion': [N,1,H,W] the fused alpha}``.

    Training: PaddleSeg's PPMatting computes its loss inside the train forward and returns
    ``(logit_dict, loss_dict)``. Our trainer calls ``logits = model(batch)`` and then
    ``model.loss(logits, batch)``, so here the train forward returns only the logit dict and
    :meth:`loss` computes the loss dict from it with the same functions in the same order:
    ``model.loss(model(data), data)`` equals PaddleSeg's ``model(data)[1]`` term for term, and
    back-propagating its ``'all'`` gives the same gradients.
    """

    input_names = ('img',)

    def __init__(self, backbone: nn.Layer, pretrained: Optional[str] = None):
        super().__init__()
        channels = list(backbone.feat_channels)
        if len(channels) < 3:
            raise ValueError('PPMatting needs a backbone with at least 3 feature levels '
                             f'(strides 2, 4, ..., 32), got feat_channels={channels}')
        self.backbone = backbone
        self.pretrained = pretrained
        self.backbone_channels = channels
        self.scb = SemanticContextBranch(channels[-1])
        self.hrdb = HighResolutionDetailBranch(channels[0] + channels[1],
                                               scb_channels=self.scb.out_channels)
        # kept in a plain dict so the loss functions add nothing to the state dict
        self._loss_fns = {'mrsd': MRSD(), 'gradient': GradientLoss()}

    def forward_maps(self, img: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        """Every intermediate the matte is made of, for inspection and tests.

        img float32 [N,3,H,W] -> {'feats': backbone features (list), 'scb_logits': the six SCB
        logits (list), 'semantic': softmax [N,3,H,W], 'detail': sigmoid [N,1,H,W],
        'alpha': fused [N,1,H,W]}.
        """
        check_input_size(img.shape[-2], img.shape[-1], type(self).__name__)
        size = paddle.shape(img)[2:]
        feats = self.backbone(img)
        scb_logits = self.scb(feats[-1])
        semantic = F.softmax(scb_logits[-1], axis=1)
        hrdb_input = paddle.concat([resize_bilinear(feats[0], size=size),
                                    resize_bilinear(feats[1], size=size)], axis=1)
        detail = F.sigmoid(self.hrdb(hrdb_input, scb_logits))
        return {'feats': feats, 'scb_logits': scb_logits, 'semantic': semantic,
                'detail': detail, 'alpha': fuse_alpha(semantic, detail)}

    def forward(self, inputs: Dict[str, paddle.Tensor]):
        maps = self.forward_maps(inputs['img'])
        if self.training:
            return {'semantic': maps['semantic'], 'detail': maps['detail'],
                    'fusion': maps['alpha']}
        return maps['alpha']

    def loss(self, logit_dict: Dict[str, paddle.Tensor],
             label_dict: Dict[str, paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """PaddleSeg's PP-Matting losses (scalar float32 tensors).

        Args:
            logit_dict: the train-mode output of ``forward``.
            label_dict: 'alpha' [N,1,H,W] in [0,1], 'trimap' [N,1,H,W] in {0,128,255},
                'fg', 'bg' [N,3,H,W] normalised like the image.

        Returns:
            semantic: NLL of log(softmax + 1e-6) against the trimap's classes (mean).
            detail_alpha, detail_gradient: MRSD and Sobel-gradient L1 of the detail map,
                both over the trimap's unknown band; detail = their sum.
            fusion_alpha: MRSD of the fused alpha (whole image); fusion_composition: MRSD
                between the fg/bg composites with the fused and the true alpha;
                fusion_gradient: gradient L1 (whole image); fusion = their sum.
            all: 0.25 * (semantic + detail + fusion).
        """
        mrsd, gradient = self._loss_fns['mrsd'], self._loss_fns['gradient']
        alpha, trimap = label_dict['alpha'], label_dict['trimap']
        semantic, detail = logit_dict['semantic'], logit_dict['detail']
        fusion = logit_dict['fusion']

        loss_semantic = F.nll_loss(paddle.log(semantic + _LOG_EPS), semantic_labels(trimap))

        band = trimap == TRIMAP_UNKNOWN
        detail_alpha = mrsd(detail, alpha, band)
        detail_gradient = gradient(detail, alpha, band)
        loss_detail = detail_alpha + detail_gradient

        fg, bg = label_dict['fg'], label_dict['bg']
        fusion_alpha = mrsd(fusion, alpha)
        fusion_composition = mrsd(composite(fusion, fg, bg), composite(alpha, fg, bg))
        fusion_gradient = gradient(fusion, alpha)
        loss_fusion = fusion_alpha + fusion_composition + fusion_gradient

        return {
            'semantic': loss_semantic,
            'detail': loss_detail,
            'detail_alpha': detail_alpha,
            'detail_gradient': detail_gradient,
            'fusion': loss_fusion,
            'fusion_alpha': fusion_alpha,
            'fusion_composition': fusion_composition,
            'fusion_gradient': fusion_gradient,
            'all': (_GROUP_WEIGHT * loss_semantic + _GROUP_WEIGHT * loss_detail
                    + _GROUP_WEIGHT * loss_fusion),
        }

"""MODNet: trimap-free portrait matting (Ke et al., "Is a Green Screen Really Necessary for
Real-Time Portrait Matting?", AAAI 2022, arXiv:2011.11961), as in PaddleSeg Matting.

What MODNet needs from a backbone
---------------------------------
``backbone(img)`` must return a list of five feature maps at strides 2, 4, 8, 16 and 32
(index 0..4), and ``backbone.feat_channels`` their five channel counts ``c0..c4``.
The head consumes:

* tensors ``feats[0]`` (stride 2, c0 channels) and ``feats[1]`` (stride 4, c1 channels) in
  the high-resolution branch, and ``feats[4]`` (stride 32, c4 channels) in the
  low-resolution branch; ``feats[2]`` and ``feats[3]`` are not used;
* channel counts ``c2`` and ``c3`` only to size the low-resolution branch: the stride-32
  feature is decoded to c3 channels at stride 16 and to c2 channels at stride 8 (``lr8x``).

Channels: MobileNetV2 [16, 24, 32, 96, 1280], ResNet50_vd [64, 256, 512, 1024, 2048],
HRNet_W18 [64, 18, 36, 72, 144]; the head's weight shapes follow them.
Input height and width must be multiples of 32 (the branches are re-aligned by exact x2
upsampling); resize with the ``ResizeToIntMult`` transform (``mult_int: 32``) first.
"""
from typing import Dict, List, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..config import manager
from ..utils.trimap_values import TRIMAP_UNKNOWN
from .layers import check_size_multiple, resize_bilinear
from .losses.reduction import masked_mean
from .modnet_blocks import ConvIBNormReLU, GaussianBlur, SEBlock

# the semantic (LR) prediction lives at 1/16 of the input
_SEMANTIC_SCALE = 1 / 16
# the network downsamples 5 times by 2, so the input must divide by 32
_SIZE_MULTIPLE = 32
# loss weights of PaddleSeg's MODNet: detail term, and the extra weight on the unknown band
_DETAIL_WEIGHT = 10.0
_BAND_WEIGHT = 4.0
_DETAIL_EPS = 1e-6


class LRBranch(nn.Layer):
    """Low-resolution (semantic) branch: SE on the stride-32 feature, decoded to stride 8.

    Returns ``(semantic, lr8x)``: semantic float32 [N,1,H/16,W/16] in (0,1) in training,
    None in eval; lr8x float32 [N, c2, H/8, W/8].
    """

    def __init__(self, feat_channels: Sequence[int]):
        super().__init__()
        c2, c3, c4 = feat_channels[2], feat_channels[3], feat_channels[4]
        self.se_block = SEBlock(c4, reduction=4)
        self.conv_lr16x = ConvIBNormReLU(c4, c3, 5, padding=2)
        self.conv_lr8x = ConvIBNormReLU(c3, c2, 5, padding=2)
        self.conv_lr = ConvIBNormReLU(c2, 1, 3, stride=2, padding=1,
                                      with_ibn=False, with_relu=False)

    def forward(self, enc32x: paddle.Tensor):
        lr16x = self.conv_lr16x(resize_bilinear(self.se_block(enc32x), scale=2))
        lr8x = self.conv_lr8x(resize_bilinear(lr16x, scale=2))
        semantic = F.sigmoid(self.conv_lr(lr8x)) if self.training else None
        return semantic, lr8x


class HRBranch(nn.Layer):
    """High-resolution (detail) branch: image + stride-2/4 features + upsampled lr8x.

    Returns ``(detail, hr2x)``: detail float32 [N,1,H,W] in (0,1) in training, None in
    eval; hr2x float32 [N, hr_channels, H/2, W/2].
    """

    def __init__(self, hr_channels: int, feat_channels: Sequence[int]):
        super().__init__()
        hr, hr2 = hr_channels, 2 * hr_channels
        self.tohr_enc2x = ConvIBNormReLU(feat_channels[0], hr, 1)
        self.conv_enc2x = ConvIBNormReLU(hr + 3, hr, 3, stride=2, padding=1)
        self.tohr_enc4x = ConvIBNormReLU(feat_channels[1], hr, 1)
        self.conv_enc4x = ConvIBNormReLU(hr2, hr2, 3, padding=1)
        self.conv_hr4x = nn.Sequential(
            ConvIBNormReLU(hr2 + feat_channels[2] + 3, hr2, 3, padding=1),
            ConvIBNormReLU(hr2, hr2, 3, padding=1),
            ConvIBNormReLU(hr2, hr, 3, padding=1))
        self.conv_hr2x = nn.Sequential(
            ConvIBNormReLU(hr2, hr2, 3, padding=1),
            ConvIBNormReLU(hr2, hr, 3, padding=1),
            ConvIBNormReLU(hr, hr, 3, padding=1),
            ConvIBNormReLU(hr, hr, 3, padding=1))
        self.conv_hr = nn.Sequential(
            ConvIBNormReLU(hr + 3, hr, 3, padding=1),
            ConvIBNormReLU(hr, 1, 1, with_ibn=False, with_relu=False))

    def forward(self, img: paddle.Tensor, enc2x: paddle.Tensor, enc4x: paddle.Tensor,
                lr8x: paddle.Tensor):
        enc2x = self.tohr_enc2x(enc2x)
        hr4x = self.conv_enc2x(paddle.concat([resize_bilinear(img, scale=1 / 2), enc2x], axis=1))
        hr4x = self.conv_enc4x(paddle.concat([hr4x, self.tohr_enc4x(enc4x)], axis=1))
        hr4x = self.conv_hr4x(
            paddle.concat([hr4x, resize_bilinear(lr8x, scale=2), resize_bilinear(img, scale=1 / 4)],
                          axis=1))
        hr2x = self.conv_hr2x(paddle.concat([resize_bilinear(hr4x, scale=2), enc2x], axis=1))
        detail = None
        if self.training:
            hr = self.conv_hr(paddle.concat([resize_bilinear(hr2x, scale=2), img], axis=1))
            detail = F.sigmoid(hr)
        return detail, hr2x


class FusionBranch(nn.Layer):
    """Fuses the semantic (lr8x) and detail (hr2x) features with the image into the matte.

    Returns the matte float32 [N,1,H,W] in (0,1).
    """

    def __init__(self, hr_channels: int, feat_channels: Sequence[int]):
        super().__init__()
        self.conv_lr4x = ConvIBNormReLU(feat_channels[2], hr_channels, 5, padding=2)
        self.conv_f2x = ConvIBNormReLU(2 * hr_channels, hr_channels, 3, padding=1)
        self.conv_f = nn.Sequential(
            ConvIBNormReLU(hr_channels + 3, hr_channels // 2, 3, padding=1),
            ConvIBNormReLU(hr_channels // 2, 1, 1, with_ibn=False, with_relu=False))

    def forward(self, img: paddle.Tensor, lr8x: paddle.Tensor,
                hr2x: paddle.Tensor) -> paddle.Tensor:
        lr2x = resize_bilinear(self.conv_lr4x(resize_bilinear(lr8x, scale=2)), scale=2)
        f2x = self.conv_f2x(paddle.concat([lr2x, hr2x], axis=1))
        f = self.conv_f(paddle.concat([resize_bilinear(f2x, scale=2), img], axis=1))
        return F.sigmoid(f)


class MODNetHead(nn.Layer):
    """The three MODNet branches. Train: dict of semantic/detail/matte; eval: the matte."""

    def __init__(self, hr_channels: int, feat_channels: Sequence[int]):
        super().__init__()
        self.lr_branch = LRBranch(feat_channels)
        self.hr_branch = HRBranch(hr_channels, feat_channels)
        self.f_branch = FusionBranch(hr_channels, feat_channels)
        init = nn.initializer.KaimingUniform()
        for layer in self.sublayers():
            if isinstance(layer, nn.Conv2D):
                init(layer.weight)

    def forward(self, img: paddle.Tensor, feats: List[paddle.Tensor]):
        semantic, lr8x = self.lr_branch(feats[4])
        detail, hr2x = self.hr_branch(img, feats[0], feats[1], lr8x)
        matte = self.f_branch(img, lr8x, hr2x)
        if self.training:
            return {'semantic': semantic, 'detail': detail, 'matte': matte}
        return matte


@manager.MODELS.add_component
class MODNet(nn.Layer):
    """MODNet matting network.

    Args:
        backbone: a backbone layer with ``feat_channels`` (5 ints) returning 5 features at
            strides 2..32 (see the module docstring for which ones are used).
        hr_channels: width of the high-resolution branch (32 in PaddleSeg's configs).
        pretrained: path or URL of whole-model weights (loaded strictly by ``build_model`` after construction), or None.

    ``forward({'img': [N,3,H,W] float32 normalised to [-1,1]})``, H and W multiples of 32:
    train mode returns {'semantic': [N,1,H/16,W/16], 'detail': [N,1,H,W],
    'matte': [N,1,H,W]}, all float32 in (0,1); eval mode returns the matte [N,1,H,W].
    """

    # what forward reads from its input dict, in call order (export/predict/val read this)
    input_names = ('img',)

    def __init__(self, backbone: nn.Layer, hr_channels: int = 32,
                 pretrained: Optional[str] = None):
        super().__init__()
        if len(backbone.feat_channels) != 5:
            raise ValueError('MODNet needs a backbone with 5 feature levels (strides 2..32), '
                             f'got feat_channels={list(backbone.feat_channels)}')
        self.backbone = backbone
        self.pretrained = pretrained
        self.head = MODNetHead(hr_channels, backbone.feat_channels)
        # fixed blur of the semantic targets; part of the state dict, never trained
        self.blurer = GaussianBlur(1, 3)

    def forward(self, inputs: Dict[str, paddle.Tensor]):
        img = inputs['img']
        check_size_multiple(img, _SIZE_MULTIPLE, 'MODNet')
        return self.head(img, self.backbone(img))

    def loss(self, logit_dict: Dict[str, paddle.Tensor],
             label_dict: Dict[str, paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """MODNet's training losses (scalar float32 tensors).

        Args:
            logit_dict: the train-mode output of ``forward``.
            label_dict: 'img' [N,3,H,W] normalised, 'alpha' [N,1,H,W] in [0,1],
                'trimap' [N,1,H,W] in {0,128,255}.

        Returns: semantic (MSE to the blurred 1/16 alpha), detail (10 x L1 summed over the
        unknown band / (band pixel count + 1e-6)), fusion = fusion_l1 + fusion_comp +
        fusion_con_sem, and all = semantic + detail + fusion.
        """
        img, alpha, trimap = label_dict['img'], label_dict['alpha'], label_dict['trimap']
        semantic, detail, matte = logit_dict['semantic'], logit_dict['detail'], logit_dict['matte']
        band = trimap == TRIMAP_UNKNOWN

        semantic_target = self.blurer(resize_bilinear(alpha, scale=_SEMANTIC_SCALE))
        loss_semantic = F.mse_loss(semantic, semantic_target)

        # normalised by the band's pixel count (+eps), which reproduces the reference values
        # exactly; dividing the image-wide mean by (band fraction + eps) is off by ~5e-6
        loss_detail = _DETAIL_WEIGHT * masked_mean(paddle.abs(detail - alpha), band, _DETAIL_EPS)

        # matte_band equals the matte in the unknown band and the truth elsewhere, so the
        # second term of each pair is an extra-weighted error on the band alone
        matte_band = paddle.where(band, matte, alpha)
        loss_l1 = F.l1_loss(matte, alpha) + _BAND_WEIGHT * F.l1_loss(matte_band, alpha)
        target_comp = alpha * img
        loss_comp = (F.l1_loss(matte * img, target_comp)
                     + _BAND_WEIGHT * F.l1_loss(matte_band * img, target_comp))

        # consistency: outside the band the (blurred, downscaled) matte is a target for the
        # semantic branch; inside it the detached semantic stands in, so that part adds no
        # error and the band's matte stays free
        trimap_lr = F.interpolate(trimap, scale_factor=_SEMANTIC_SCALE, mode='nearest')
        band_lr = trimap_lr == TRIMAP_UNKNOWN
        matte_lr = self.blurer(resize_bilinear(matte, scale=_SEMANTIC_SCALE))
        target_con = paddle.where(band_lr, semantic.detach(), matte_lr)
        loss_con_sem = F.mse_loss(target_con, semantic)

        loss_fusion = loss_l1 + loss_comp + loss_con_sem
        return {
            'semantic': loss_semantic,
            'detail': loss_detail,
            'fusion': loss_fusion,
            'fusion_l1': loss_l1,
            'fusion_comp': loss_comp,
            'fusion_con_sem': loss_con_sem,
            'all': loss_semantic + loss_detail + loss_fusion,
        }

"""PP-HumanMatting: trimap-free high-resolution portrait matting, as in PaddleSeg Matting
(``ppmatting/models/human_matting.py``).

How it works
------------
The image is shrunk by ``backbone_scale`` (1/4) and a backbone returns five features at
strides 2..32 of that small image. Two decoders read them:

* **glance** (PSP module on the deepest feature, then U-shaped stages fed with upsampled PSP
  context) predicts a 3-class trimap: channel 0 foreground, 1 transition, 2 background;
* **focus** (dilated bridge, then U-shaped stages with backbone skips) predicts 34 channels:
  a transition alpha (sigmoid of channel 0), an error map (channel 1) and 32 hidden channels.

The coarse alpha ``fusion`` is 1 where the glance argmax is foreground, the focus alpha where
it is transition, and 0 elsewhere. A small **refiner** then works at full resolution on every
pixel: it upsamples hidden + fusion + glance to 1/2 size, concatenates the half-size image,
runs two unpadded 3x3 convs on a zero-padded map, repeats the result with nearest x2,
concatenates the zero-padded full image, and runs two more unpadded 3x3 convs. The padding
(3 at 1/2 size, 2 at full size) exactly makes up for what the unpadded convs remove.
(The error map is only trained; PaddleSeg's current refiner refines every pixel rather than
error-selected patches.)

Input H and W must be multiples of 128: the backbone sees H/4 and downsamples it by 32, and
the decoders re-align the levels with exact x2 upsampling. Resize with ``ResizeToIntMult``
(``mult_int: 128``) first.
"""
from typing import Dict, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..config import manager
from ..utils.trimap_values import TRIMAP_BACKGROUND, TRIMAP_UNKNOWN
from .layers import ConvBNAct, check_size_multiple, resize_bilinear
from .losses import MRSD
from .pyramid_pooling import PPModule

__all__ = ['HumanMatting', 'HumanMattingRefiner']

# the backbone downsamples its (1/4-size) input 5 times by 2: 4 * 32
_SIZE_MULTIPLE = 128
# glance classes, in channel order
_GLANCE_FG, _GLANCE_TRANSITION, _GLANCE_BG = 0, 1, 2
# focus head channels: alpha logit, error, hidden features for the refiner
_HIDDEN_CHANNELS = 32
_FOCUS_CHANNELS = 1 + 1 + _HIDDEN_CHANNELS
# PaddleSeg's loss weights: glance, focus and collaborative terms at 1/4, error and refine at 1
_COARSE_LOSS_WEIGHT = 0.25
_LOG_EPS = 1e-6


def _conv3(in_channels: int, out_channels: int, dilation: int = 1) -> ConvBNAct:
    """3x3 conv (with bias) + BN + ReLU keeping the size; dilation d pads d."""
    return ConvBNAct(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=True)


def _upsample(scale: int) -> nn.Upsample:
    return nn.Upsample(scale_factor=scale, mode='bilinear', align_corners=False)


def _decoder_stage(channels: Sequence[int], dilations: Sequence[int] = (1, 1, 1)) -> nn.Sequential:
    """Three 3x3 conv-BN-ReLUs through ``channels`` (4 ints, in -> out) and a bilinear x2."""
    convs = [_conv3(cin, cout, d) for cin, cout, d in zip(channels[:-1], channels[1:], dilations)]
    return nn.Sequential(*convs, _upsample(2))


def _output_stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLUs at ``in_channels`` and a plain 3x3 conv (logits)."""
    return nn.Sequential(_conv3(in_channels, in_channels), _conv3(in_channels, in_channels),
                         nn.Conv2D(in_channels, out_channels, 3, padding=1))


class HumanMattingRefiner(nn.Layer):
    """Full-resolution refinement of the coarse prediction (every pixel).

    Args:
        kernel_size: 3 (unpadded 3x3 convs on zero-padded maps) or 1 (pointwise).

    forward(img [N,3,H,W], fusion [N,1,h,w], hidden [N,32,h,w], glance [N,3,h,w]) with
    h = H/4 (H, W even) -> the refined alpha [N,1,H,W] float32, not clipped.
    """

    def __init__(self, kernel_size: int = 3):
        super().__init__()
        if kernel_size not in (1, 3):
            raise ValueError(f'HumanMattingRefiner: kernel_size must be 1 or 3, got {kernel_size}')
        self.kernel_size = kernel_size
        coarse_channels = _HIDDEN_CHANNELS + 1 + 3  # hidden + fusion + glance
        self.conv1 = ConvBNAct(coarse_channels + 3, 24, kernel_size, padding=0)
        self.conv2 = ConvBNAct(24, 16, kernel_size, padding=0)
        self.conv3 = ConvBNAct(16 + 3, 12, kernel_size, padding=0)
        self.conv4 = nn.Conv2D(12, 1, kernel_size, padding=0)

    def forward(self, img: paddle.Tensor, fusion: paddle.Tensor, hidden: paddle.Tensor,
                glance: paddle.Tensor) -> paddle.Tensor:
        # the coarse maps live at 1/4 of the image: x2 brings them to half size
        coarse = resize_bilinear(paddle.concat([hidden, fusion, glance], axis=1), scale=2)
        img_half = resize_bilinear(img, scale=0.5)
        # each unpadded 3x3 conv removes one pixel per side: pad 3 at half size for two convs
        # (+1 spare, so the nearest x2 below gives the full size + 4) and 2 at full size
        half_pad = 3 if self.kernel_size == 3 else 0
        full_pad = 2 if self.kernel_size == 3 else 0
        x = paddle.concat([F.pad(coarse, [half_pad] * 4), F.pad(img_half, [half_pad] * 4)], axis=1)
        x = self.conv2(self.conv1(x))
        x = F.interpolate(x, scale_factor=2, mode='nearest')
        x = self.conv3(paddle.concat([x, F.pad(img, [full_pad] * 4)], axis=1))
        return self.conv4(x)


@manager.MODELS.add_component
class HumanMatting(nn.Layer):
    """PP-HumanMatting network.

    Args:
        backbone: a backbone with ``feat_channels`` (5 ints) returning 5 features at strides
            2..32 of its input (ResNet34_vd: [64, 64, 128, 256, 512]).
        pretrained: path or URL of whole-model weights, or None (stored, loaded by the builder).
        backbone_scale: the backbone's input scale (at most 1/2 with the refiner); without
            the refiner it is forced to 1, as in PaddleSeg.
        refine_kernel_size: the refiner's kernel size, 1 or 3.
        if_refine: use the full-resolution refiner.

    ``forward({'img': [N,3,H,W] float32 normalised})``, H and W multiples of 128:
    eval returns alpha [N,1,H,W] float32 in [0,1]; train returns the dict of ``heads``
    ('glance', 'focus', 'fusion', 'error', and 'refine' with the refiner) for ``loss``.
    """

    input_names = ('img',)

    def __init__(self, backbone: nn.Layer, pretrained: Optional[str] = None,
                 backbone_scale: float = 0.25, refine_kernel_size: int = 3, if_refine: bool = True):
        super().__init__()
        if len(backbone.feat_channels) != 5:
            raise ValueError('HumanMatting needs a backbone with 5 feature levels (strides 2..32), '
                             f'got feat_channels={list(backbone.feat_channels)}')
        if if_refine and backbone_scale > 0.5:
            raise ValueError(f'HumanMatting: backbone_scale must be at most 0.5 with the refiner, '
                             f'got {backbone_scale}')
        self.backbone = backbone
        self.backbone_scale = backbone_scale if if_refine else 1
        self.pretrained = pretrained
        self.if_refine = if_refine
        if if_refine:
            self.refiner = HumanMattingRefiner(kernel_size=refine_kernel_size)
        c = list(backbone.feat_channels)

        # glance decoder: PSP context, injected at every level through its own upsampling
        self.psp_module = PPModule(c[4], 512, bin_sizes=(1, 3, 5), dim_reduction=False)
        self.psp4 = nn.Sequential(_conv3(512, 256), _upsample(2))
        self.psp3 = nn.Sequential(_conv3(512, 128), _upsample(4))
        self.psp2 = nn.Sequential(_conv3(512, 64), _upsample(8))
        self.psp1 = nn.Sequential(_conv3(512, 64), _upsample(16))
        self.decoder5_g = _decoder_stage([512 + c[4], 512, 512, 256], dilations=(1, 2, 2))
        self.decoder4_g = _decoder_stage([512, 256, 256, 128])
        self.decoder3_g = _decoder_stage([256, 128, 128, 64])
        self.decoder2_g = _decoder_stage([128, 128, 128, 64])
        self.decoder1_g = _decoder_stage([128, 64, 64, 64])
        self.decoder0_g = _output_stage(64, 3)

        # focus decoder: dilated bridge, then backbone skips at every level
        self.bridge_block = nn.Sequential(_conv3(c[4], 512, 2), _conv3(512, 512, 2),
                                          _conv3(512, 512, 2))
        self.decoder5_f = _decoder_stage([512 + c[4], 512, 512, 256], dilations=(1, 2, 2))
        self.decoder4_f = _decoder_stage([256 + c[3], 256, 256, 128])
        self.decoder3_f = _decoder_stage([128 + c[2], 128, 128, 64])
        self.decoder2_f = _decoder_stage([64 + c[1], 128, 128, 64])
        self.decoder1_f = _decoder_stage([64 + c[0], 64, 64, 64])
        self.decoder0_f = _output_stage(64, _FOCUS_CHANNELS)

    # ---- forward ------------------------------------------------------------------------
    def _glance_logit(self, feats) -> paddle.Tensor:
        psp = self.psp_module(feats[4])
        x = self.decoder5_g(paddle.concat([psp, feats[4]], axis=1))
        x = self.decoder4_g(paddle.concat([self.psp4(psp), x], axis=1))
        x = self.decoder3_g(paddle.concat([self.psp3(psp), x], axis=1))
        x = self.decoder2_g(paddle.concat([self.psp2(psp), x], axis=1))
        x = self.decoder1_g(paddle.concat([self.psp1(psp), x], axis=1))
        return self.decoder0_g(x)

    def _focus_output(self, feats) -> paddle.Tensor:
        x = self.decoder5_f(paddle.concat([self.bridge_block(feats[4]), feats[4]], axis=1))
        x = self.decoder4_f(paddle.concat([x, feats[3]], axis=1))
        x = self.decoder3_f(paddle.concat([x, feats[2]], axis=1))
        x = self.decoder2_f(paddle.concat([x, feats[1]], axis=1))
        x = self.decoder1_f(paddle.concat([x, feats[0]], axis=1))
        return self.decoder0_f(x)

    @staticmethod
    def fuse(glance: paddle.Tensor, focus: paddle.Tensor) -> paddle.Tensor:
        """Coarse alpha [N,1,h,w]: 1 on argmax foreground, ``focus`` on transition, 0 on background.

        glance: softmax [N,3,h,w] (fg, transition, bg); focus: [N,1,h,w] in (0,1).
        """
        index = paddle.argmax(glance, axis=1, keepdim=True)
        transition = (index == _GLANCE_TRANSITION).astype(focus.dtype)
        foreground = (index == _GLANCE_FG).astype(focus.dtype)
        return focus * transition + foreground

    def heads(self, inputs: Dict[str, paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """Every intermediate prediction, float32, h = H * backbone_scale:

        'glance' [N,3,h,w] softmax, 'focus' [N,1,h,w] sigmoid, 'fusion' [N,1,h,w] coarse
        alpha, 'error' [N,1,h,w] clipped to [0,1], 'hidden' [N,32,h,w] >= 0, and with the
        refiner 'refine_raw' [N,1,H,W] (unclipped); 'alpha' [N,1,H,W] in [0,1] is the output.
        """
        img = inputs['img']
        self._check_size(img)
        feats = self.backbone(resize_bilinear(img, scale=self.backbone_scale))
        glance = F.softmax(self._glance_logit(feats), axis=1)
        focus_out = self._focus_output(feats)
        focus = F.sigmoid(focus_out[:, 0:1])
        out = {
            'glance': glance,
            'focus': focus,
            'fusion': self.fuse(glance, focus),
            'error': paddle.clip(focus_out[:, 1:2], 0.0, 1.0),
            'hidden': F.relu(focus_out[:, 2:]),
        }
        if self.if_refine:
            out['refine_raw'] = self.refiner(img, out['fusion'], out['hidden'], glance)
            out['alpha'] = paddle.clip(out['refine_raw'], 0.0, 1.0)
        else:
            out['alpha'] = out['fusion']
        return out

    def forward(self, inputs: Dict[str, paddle.Tensor]):
        out = self.heads(inputs)
        if not self.training:
            return out['alpha']
        logits = {k: out[k] for k in ('glance', 'focus', 'fusion', 'error')}
        if self.if_refine:
            logits['refine'] = out['alpha']
        return logits

    def _check_size(self, img: paddle.Tensor) -> None:
        check_size_multiple(img, _SIZE_MULTIPLE, 'HumanMatting')

    # ---- loss ---------------------------------------------------------------------------
    def loss(self, logit_dict: Dict[str, paddle.Tensor],
             label_dict: Dict[str, paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """PaddleSeg's HumanMatting training losses (scalar float32 tensors).

        Args:
            logit_dict: the train-mode output of ``forward``.
            label_dict: 'alpha' [N,1,H,W] in [0,1], 'trimap' [N,1,H,W] in {0,128,255}.

        Returns: glance (NLL of log(glance + 1e-6) against the nearest-resized trimap's
        classes), focus (MRSD to the bilinear-resized alpha on the trimap's transition band),
        cm (MRSD of fusion to that alpha), err (MSE of the upsampled error map to
        |upsampled fusion - alpha|; not detached, as in PaddleSeg), refine (L1 of the
        refined alpha, with the refiner), and all = 0.25 (glance + focus + cm) + err (+ refine).
        """
        alpha, trimap = label_dict['alpha'], label_dict['trimap']
        glance, focus, fusion = logit_dict['glance'], logit_dict['focus'], logit_dict['fusion']
        coarse_size = glance.shape[2:]
        full_size = alpha.shape[2:]

        trimap_small = F.interpolate(trimap, size=coarse_size, mode='nearest')
        transition = (trimap_small == TRIMAP_UNKNOWN).astype('int64')
        background = (trimap_small == TRIMAP_BACKGROUND).astype('int64')
        glance_label = (transition * _GLANCE_TRANSITION + background * _GLANCE_BG).squeeze(1)
        loss_glance = F.nll_loss(paddle.log(glance + _LOG_EPS), glance_label)

        mrsd = MRSD()
        alpha_small = resize_bilinear(alpha, size=coarse_size)
        loss_focus = mrsd(focus, alpha_small, transition)
        loss_cm = mrsd(fusion, alpha_small)

        error_full = resize_bilinear(logit_dict['error'], size=full_size)
        error_label = paddle.abs(resize_bilinear(fusion, size=full_size) - alpha)
        loss_err = F.mse_loss(error_full, error_label)

        # summed in PaddleSeg's order, so the float32 total matches it bit for bit
        loss_all = (_COARSE_LOSS_WEIGHT * loss_glance + _COARSE_LOSS_WEIGHT * loss_focus
                    + _COARSE_LOSS_WEIGHT * loss_cm + loss_err)
        losses = {'glance': loss_glance, 'focus': loss_focus, 'cm': loss_cm, 'err': loss_err}
        if self.if_refine:
            losses['refine'] = F.l1_loss(logit_dict['refine'], alpha)
            loss_all = loss_all + losses['refine']
        losses['all'] = loss_all
        return losses

"""Deep Image Matting (Xu et al., CVPR 2017, https://arxiv.org/abs/1703.03872).

An encoder (VGG16 on RGB + trimap) and a skip-connected decoder predict a raw
alpha; a small refinement net, fed with the image and the raw alpha, predicts a
non-negative correction that is added to it.

Training runs in three stages (``stage``):
  1. encoder-decoder only: alpha loss + composition loss on the raw alpha;
  2. refinement only: encoder and decoder frozen, alpha loss on the refined alpha;
  3. everything end to end: all three terms.

State-dict keys match PaddleSeg Matting's ``DIM`` (``backbone.*``,
``decoder.deconv6`` .. ``decoder.deconv1``, ``decoder.alpha_conv``,
``refine.conv1`` .. ``refine.alpha_pred``), so its published weights load.
"""
import contextlib
from typing import Dict, List, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..config import manager
from ..utils.trimap_values import TRIMAP_FOREGROUND, TRIMAP_UNKNOWN
from .layers import ConvBNAct, require_trimap, resize_bilinear
from .losses import MRSD, CompositionLoss

__all__ = ['DIM', 'DIMDecoder', 'DIMRefiner', 'SkipUpsample']


class SkipUpsample(nn.Layer):
    """One decoder step: upsample to the skip feature's size, add it, 5x5 conv-BN-ReLU.

    Args:
        in_channels: channels of both the incoming feature and the skip feature.
        out_channels: channels of the output.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = ConvBNAct(in_channels, out_channels, kernel_size=5)

    def forward(self, x: paddle.Tensor, skip: paddle.Tensor) -> paddle.Tensor:
        """x [N,in,h,w], skip [N,in,H,W] -> [N,out,H,W], >= 0."""
        return self.conv(resize_bilinear(x, size=skip.shape[-2:]) + skip)


class DIMDecoder(nn.Layer):
    """Decoder from the encoder's six features to a raw alpha in (0, 1).

    Args:
        feat_channels: channels of the encoder features, finest first; the last
            one is the deepest feature, the others are skip connections.  Each
            decoder step outputs the channels of the next finer skip, and the
            finest step keeps ``feat_channels[0]``.
        input_channels: channels of the deepest feature (checked against
            ``feat_channels``, because the first skip is added to it).
    """

    def __init__(self, feat_channels: Sequence[int], input_channels: int = 512):
        super().__init__()
        num_skips = len(feat_channels) - 1
        if num_skips != 5:
            raise ValueError(f'DIMDecoder: expected 6 encoder features (5 skips + the deepest), '
                             f'got feat_channels={list(feat_channels)}.')
        if not input_channels == feat_channels[-1] == feat_channels[-2]:
            raise ValueError(f'DIMDecoder: decoder_input_channels={input_channels} must equal the '
                             f'channels of the two deepest encoder features {list(feat_channels[-2:])}, '
                             f'since the deepest skip is added to the decoder input.')
        self.deconv6 = nn.Conv2D(input_channels, input_channels, kernel_size=1, bias_attr=False)
        # deconv5 consumes the deepest skip (feature 4), deconv1 the finest (feature 0)
        for level in range(num_skips, 0, -1):
            out_channels = feat_channels[max(level - 2, 0)]
            setattr(self, f'deconv{level}', SkipUpsample(feat_channels[level - 1], out_channels))
        self.alpha_conv = nn.Conv2D(feat_channels[0], 1, kernel_size=5, padding=2, bias_attr=False)

    def forward(self, feats: List[paddle.Tensor]) -> paddle.Tensor:
        """feats: the encoder's six features -> alpha float32 [N,1,H0,W0] in (0,1) at feats[0]'s size."""
        x = self.deconv6(feats[-1])
        for level in range(len(feats) - 1, 0, -1):
            x = getattr(self, f'deconv{level}')(x, feats[level - 1])
        return F.sigmoid(self.alpha_conv(x))


class DIMRefiner(nn.Layer):
    """Refinement net: image + raw alpha -> a non-negative alpha correction.

    Three 3x3 conv-BN-ReLU layers of 64 channels and a 3x3 conv-BN-ReLU to one
    channel; the final ReLU is why the correction is >= 0.
    """

    def __init__(self, in_channels: int = 4, mid_channels: int = 64):
        super().__init__()
        self.conv1 = ConvBNAct(in_channels, mid_channels, kernel_size=3)
        self.conv2 = ConvBNAct(mid_channels, mid_channels, kernel_size=3)
        self.conv3 = ConvBNAct(mid_channels, mid_channels, kernel_size=3)
        self.alpha_pred = ConvBNAct(mid_channels, 1, kernel_size=3)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """x float32 [N,4,H,W] (normalised image, raw alpha) -> correction [N,1,H,W] >= 0."""
        return self.alpha_pred(self.conv3(self.conv2(self.conv1(x))))


@manager.MODELS.add_component
class DIM(nn.Layer):
    """Deep Image Matting.

    Args:
        backbone: encoder taking [N,4,H,W] (image + trimap) and returning six
            features, with ``feat_channels`` (e.g. ``VGG16(input_channels=4)``).
        stage: training stage 1, 2 or 3 (see the module docstring).  Stage 1
            builds no refinement net; stage 2 freezes the encoder and decoder.
        decoder_input_channels: channels of the deepest encoder feature.
        pretrained: path or URL of a whole-model checkpoint, loaded strictly by ``build_model`` after construction.

    Inputs (``forward``): dict with ``img`` float32 [N,3,H,W] normalised to
    [-1,1] and ``trimap`` float32 [N,1,H,W] in {0,128,255}.  Any H, W >= 32 work:
    the decoder upsamples to each skip feature's exact size, so nothing is padded.
    Train mode returns ``{'alpha_raw', 'alpha_pred'}`` ([N,1,H,W]; ``alpha_pred``
    only for stage >= 2, unclipped); eval mode returns the alpha [N,1,H,W] in [0,1].
    """

    # what forward reads from its input dict, in call order (export/predict/val read this)
    input_names = ('img', 'trimap')

    def __init__(self,
                 backbone: nn.Layer,
                 stage: int = 3,
                 decoder_input_channels: int = 512,
                 pretrained: Optional[str] = None):
        super().__init__()
        if stage not in (1, 2, 3):
            raise ValueError(f'DIM: stage must be 1, 2 or 3, got {stage}.')
        self.backbone = backbone
        self.stage = stage
        self.pretrained = pretrained
        self.decoder = DIMDecoder(backbone.feat_channels, decoder_input_channels)
        if stage >= 2:
            self.refine = DIMRefiner()
        if stage == 2:
            for param in self._frozen_parameters():
                param.stop_gradient = True
        # parameter-free, so they leave the state dict unchanged
        self.alpha_loss = MRSD()
        self.comp_loss = CompositionLoss()

    def _frozen_parameters(self) -> List[paddle.Tensor]:
        return self.backbone.parameters() + self.decoder.parameters()

    def _hold_frozen_parts_in_eval(self) -> None:
        # A frozen encoder/decoder must also keep its BN running statistics and
        # use them, or stage 2 would train the refiner on outputs that differ
        # from inference.  Set per forward (not in train()) so that it also holds
        # when a wrapper such as DataParallel flips the modes of all sublayers.
        for part in (self.backbone, self.decoder):
            for layer in [part] + part.sublayers():
                layer.training = False

    def forward_stages(self, inputs: Dict[str, paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """The two stages' outputs separately.

        Returns ``alpha_raw`` float32 [N,1,H,W] in (0,1) (decoder sigmoid) and,
        for stage >= 2, ``alpha_refine`` [N,1,H,W] >= 0 (the refiner's correction).
        """
        require_trimap(inputs, 'DIM')
        img = inputs['img']
        size = img.shape[-2:]
        if self.stage == 2:
            self._hold_frozen_parts_in_eval()
        # without gradients into a frozen encoder/decoder, skip recording its graph
        with paddle.no_grad() if self.stage == 2 else contextlib.nullcontext():
            trimap = inputs['trimap'] / float(TRIMAP_FOREGROUND)  # to [0, 1]
            encoder_input = paddle.concat([img, trimap], axis=1)
            alpha_raw = resize_bilinear(self.decoder(self.backbone(encoder_input)), size=size)
        parts = {'alpha_raw': alpha_raw}
        if self.stage >= 2:
            parts['alpha_refine'] = self.refine(paddle.concat([img, alpha_raw], axis=1))
        return parts

    def forward(self, inputs: Dict[str, paddle.Tensor]):
        """See the class docstring for the inputs and the train/eval outputs."""
        parts = self.forward_stages(inputs)
        logits = {'alpha_raw': parts['alpha_raw']}
        if self.stage >= 2:
            logits['alpha_pred'] = parts['alpha_raw'] + parts['alpha_refine']
        if self.training:
            return logits
        final = logits['alpha_pred'] if self.stage >= 2 else logits['alpha_raw']
        return paddle.clip(final, 0.0, 1.0)

    def loss(self, logit_dict: Dict[str, paddle.Tensor],
             label_dict: Dict[str, paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """Stage-dependent MRSD losses over the trimap's unknown band.

        Args:
            logit_dict: train-mode output of ``forward``.
            label_dict: ``alpha`` [N,1,H,W] in [0,1], ``trimap`` [N,1,H,W] in
                {0,128,255}, and for stages 1 and 3 ``img``, ``fg``, ``bg``
                [N,3,H,W] normalised alike.
        Returns:
            scalar float32 tensors: ``alpha_raw`` (stages 1, 3; weight 0.5), ``comp``
            (stages 1, 3; weight 0.5; the raw alpha compositing fg over bg vs the
            image), ``alpha_pred`` (stages 2, 3; weight 1) and their sum ``all``.
        """
        mask = label_dict['trimap'] == TRIMAP_UNKNOWN  # the losses only look at the unknown band
        alpha = label_dict['alpha']
        losses = {}
        if self.stage in (1, 3):
            alpha_raw = logit_dict['alpha_raw']
            losses['alpha_raw'] = 0.5 * self.alpha_loss(alpha_raw, alpha, mask)
            losses['comp'] = 0.5 * self.comp_loss(alpha_raw, label_dict['fg'], label_dict['bg'],
                                                  label_dict['img'], mask)
        if self.stage >= 2:
            losses['alpha_pred'] = self.alpha_loss(logit_dict['alpha_pred'], alpha, mask)
        losses['all'] = paddle.add_n(list(losses.values()))
        return losses


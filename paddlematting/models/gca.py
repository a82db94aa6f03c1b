"""GCA Matting: Natural Image Matting via Guided Contextual Attention (Li & Lu, AAAI 2020,
https://arxiv.org/abs/2001.04069).

A spectral-normalised ResNet encoder (``ResGuidedCxtAtten``) on image + trimap and a
residual decoder of transposed-conv up-blocks; both carry a guided contextual attention
layer at 1/8 that propagates alpha features from known to unknown regions, guided by
image features. The alpha is ``(tanh(x) + 1) / 2`` at the input size.

State-dict keys match PaddleSeg Matting's ``GCA`` (``encoder.*``, ``decoder.*``, spectral
norm as ``weight_orig``/``weight_u``/``weight_v``), so its checkpoints load.
"""
from typing import Dict, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..config import manager
from ..utils.trimap_values import TRIMAP_FOREGROUND
from .gca_blocks import GuidedCxtAtten, init_gca_weights, sn_conv, sn_deconv4x4
from .layers import require_trimap

__all__ = ['GCA', 'GCADecoder', 'DecoderBlock', 'check_input_size']

# the encoder downsamples 5 times by 2 and the decoder adds its x2 outputs to the skips
SIZE_MULTIPLE = 32


def check_input_size(size: Sequence[int]) -> None:
    """Raise ValueError unless (H, W) are positive multiples of 32 (what GCA can run on)."""
    height, width = (int(s) for s in size)
    if height <= 0 or width <= 0 or height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
        raise ValueError(f'GCA: the input height and width must be multiples of {SIZE_MULTIPLE}, '
                         f'got {height}x{width}; add ResizeToIntMult (mult_int: {SIZE_MULTIPLE}) '
                         f'to the transforms.')


class DecoderBlock(nn.Layer):
    """Residual up-block with spectral-normalised convs and LeakyReLU(0.2).

    ``stride`` 2: conv1 is a 4x4 stride-2 transposed conv (x2), and ``upsample`` (nearest x2,
    1x1 conv, BN) maps the identity; stride 1: conv1 is a 3x3 conv. Then BN, LeakyReLU,
    3x3 conv to ``channels``, BN, + identity, LeakyReLU.
    Input [N,in_channels,H,W] -> [N,channels,H*stride,W*stride].
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 upsample: Optional[nn.Layer] = None):
        super().__init__()
        if stride > 1:
            self.conv1 = sn_deconv4x4(in_channels, in_channels)
        else:
            self.conv1 = sn_conv(in_channels, in_channels, 3)
        self.bn1 = nn.BatchNorm2D(in_channels)
        self.conv2 = sn_conv(in_channels, channels, 3)
        self.bn2 = nn.BatchNorm2D(channels)
        self.upsample = upsample

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = F.leaky_relu(self.bn1(self.conv1(x)), 0.2)
        out = self.bn2(self.conv2(out))
        identity = x if self.upsample is None else self.upsample(x)
        return F.leaky_relu(out + identity, 0.2)


class GCADecoder(nn.Layer):
    """PaddleSeg's ``ResGuidedCxtAtten_Dec``: four stride-2 stages (256, 128, 64, 32 channels)
    each added to the encoder's shortcut of that size, attention after the second, then a
    4x4 transposed conv to full size, BN, LeakyReLU, + the full-size shortcut, a 3x3 conv
    (with bias) to one channel and ``(tanh + 1) / 2``.

    Args:
        layers: blocks per stage ([2, 3, 3, 2] in GCA).
    """

    def __init__(self, layers: Sequence[int] = (2, 3, 3, 2)):
        super().__init__()
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f'GCADecoder: layers must be 4 positive block counts, got {list(layers)}.')
        self._in_channels = 512
        self.conv1 = sn_deconv4x4(32, 32)
        self.bn1 = nn.BatchNorm2D(32)
        self.conv2 = nn.Conv2D(32, 1, kernel_size=3, padding=1)
        self.layer1 = self._make_layer(256, layers[0])
        self.layer2 = self._make_layer(128, layers[1])
        self.layer3 = self._make_layer(64, layers[2])
        self.layer4 = self._make_layer(32, layers[3])
        init_gca_weights(self, DecoderBlock)
        # created after the init above, so it keeps its own (near-identity) initialisation
        self.gca = GuidedCxtAtten(128, 128)

    def _make_layer(self, channels: int, blocks: int) -> nn.Sequential:
        upsample = nn.Sequential(nn.Upsample(scale_factor=2, mode='nearest'),
                                 sn_conv(self._in_channels, channels, 1),
                                 nn.BatchNorm2D(channels))
        parts = [DecoderBlock(self._in_channels, channels, 2, upsample)]
        self._in_channels = channels
        parts += [DecoderBlock(channels, channels) for _ in range(1, blocks)]
        return nn.Sequential(*parts)

    def forward(self, x: paddle.Tensor, mid: Dict) -> paddle.Tensor:
        """x [N,512,H/32,W/32] and the encoder's ``mid`` dict -> alpha [N,1,H,W] in [0,1]."""
        fea1, fea2, fea3, fea4, fea5 = mid['shortcut']
        x = self.layer1(x) + fea5  # 1/16
        x = self.layer2(x) + fea4  # 1/8
        x = self.gca(mid['image_fea'], x, mid['unknown'])
        x = self.layer3(x) + fea3  # 1/4
        x = self.layer4(x) + fea2  # 1/2
        x = F.leaky_relu(self.bn1(self.conv1(x)), 0.2) + fea1  # 1/1
        return (paddle.tanh(self.conv2(x)) + 1.0) / 2.0


@manager.MODELS.add_component
class GCA(nn.Layer):
    """GCA Matting with PaddleSeg's decoder (``ResGuidedCxtAtten_Dec([2, 3, 3, 2])``).

    Args:
        backbone: the encoder, ``ResGuidedCxtAtten(input_channels=4, layers=[3, 4, 4, 2])``.
        pretrained: path or URL of a whole-model checkpoint, kept as ``self.pretrained``
            for ``builders.build_model``, which loads it strictly (the constructor loads nothing).

    Inputs (``forward``): dict with ``img`` float32 [N,3,H,W] normalised and ``trimap``
    float32 [N,1,H,W] in {0,128,255}. H and W must be multiples of 32 (the encoder halves
    the size five times and the decoder adds each x2 output to a skip of that size); the
    val/predict transforms provide this with ``ResizeToIntMult: 32``. The attention's
    memory grows with (H*W/256)^2: about 1 GiB per tensor per sample at 2048x2048.
    Train mode returns ``{'alpha_pred': [N,1,H,W]}``; eval mode returns the alpha
    [N,1,H,W] in [0,1]. Each sample's output depends on that sample alone (eval mode).
    """

    input_names = ('img', 'trimap')

    def __init__(self, backbone: nn.Layer, pretrained: Optional[str] = None):
        super().__init__()
        self.encoder = backbone
        self.decoder = GCADecoder([2, 3, 3, 2])
        self.pretrained = pretrained

    def forward(self, inputs: Dict[str, paddle.Tensor]):
        """See the class docstring for the inputs and the train/eval outputs."""
        require_trimap(inputs, 'GCA')
        img = inputs['img']
        # sizes are unknown while tracing for export; check them when running
        if paddle.in_dynamic_mode():
            check_input_size(img.shape[-2:])
        x = paddle.concat([img, inputs['trimap'] / float(TRIMAP_FOREGROUND)], axis=1)
        bottleneck, mid = self.encoder(x)
        alpha = self.decoder(bottleneck, mid)
        if self.training:
            return {'alpha_pred': alpha}
        return alpha

    def loss(self, logit_dict: Dict[str, paddle.Tensor],
             label_dict: Dict[str, paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """PaddleSeg's GCA loss: the plain L1 mean over the whole image (not only the
        unknown band).

        Args:
            logit_dict: train-mode output of ``forward`` (``alpha_pred`` [N,1,H,W]).
            label_dict: ``alpha`` [N,1,H,W] in [0,1].
        Returns:
            scalar float32 tensors ``alpha`` and ``all`` (the same value).
        """
        alpha = F.l1_loss(logit_dict['alpha_pred'], label_dict['alpha'])
        return {'alpha': alpha, 'all': alpha}


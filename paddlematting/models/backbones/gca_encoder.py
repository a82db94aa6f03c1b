"""GCA Matting's encoder ``ResGuidedCxtAtten`` (Li & Lu, AAAI 2020): a spectral-normalised
ResNet on image + trimap with a guided contextual attention layer at 1/8 and skip
("shortcut") branches at 1/1..1/16 for the decoder.

With ``layers=[3, 4, 4, 2]`` it is upstream GCA-Matting's ``resnet_gca_encoder_29`` (a
29-layer net despite the ``gca_resnet34`` name of the reference data). State-dict keys match
PaddleSeg Matting's ``ResGuidedCxtAtten`` (``conv1..3``, ``bn1..3``, ``layer1..3``,
``layer_bottleneck``, ``shortcut.<i>``, ``guidance_head``, ``gca``).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...config import manager
from ..gca_blocks import GuidedCxtAtten, init_gca_weights, sn_conv, subsample_nearest

__all__ = ['ResGuidedCxtAtten', 'EncoderBlock']


class EncoderBlock(nn.Layer):
    """ResNet basic block with spectral-normalised convs: conv3x3(stride)-BN-ReLU-conv3x3-BN,
    plus the identity (or ``downsample`` when given), then ReLU.

    Input [N,in_channels,H,W] -> [N,channels,H/stride,W/stride].
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: Optional[nn.Layer] = None):
        super().__init__()
        self.conv1 = sn_conv(in_channels, channels, 3, stride=stride)
        self.bn1 = nn.BatchNorm2D(channels)
        self.conv2 = sn_conv(channels, channels, 3)
        self.bn2 = nn.BatchNorm2D(channels)
        self.downsample = downsample

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


def _shortcut(in_channels: int, channels: int) -> nn.Sequential:
    # conv-ReLU-BN (ReLU before BN), twice: indices 0/2/3/5 are the keyed layers
    return nn.Sequential(
        sn_conv(in_channels, channels, 3), nn.ReLU(), nn.BatchNorm2D(channels),
        sn_conv(channels, channels, 3), nn.ReLU(), nn.BatchNorm2D(channels))


def _guidance_head() -> nn.Sequential:
    # three reflect-padded stride-2 convs on the RGB image: 128 channels at 1/8
    parts = []
    for cin, cout in ((3, 16), (16, 32), (32, 128)):
        parts += [nn.Pad2D(1, mode='reflect'), sn_conv(cin, cout, 3, stride=2, padding=0),
                  nn.ReLU(), nn.BatchNorm2D(cout)]
    return nn.Sequential(*parts)


@manager.BACKBONES.add_component
class ResGuidedCxtAtten(nn.Layer):
    """GCA's encoder.

    Args:
        input_channels: 4 (normalised RGB and trimap/255, as ``GCA`` feeds it).
        layers: basic blocks in layer1, layer2, layer3 and layer_bottleneck.
        late_downsample: stem strides [1, 2, 1, 2] and 64 mid channels instead of
            [2, 1, 2, 1] and 32.
        pretrained: path or URL of encoder weights, kept as ``self.pretrained`` for the
            model builder to load (nothing is loaded here).

    ``forward(x [N,4,H,W])`` with H, W multiples of 32 returns ``(bottleneck, mid)``:
    ``bottleneck`` [N,512,H/32,W/32] and ``mid`` = ``{'shortcut': (fea1..fea5), 'image_fea',
    'unknown'}`` with fea1..fea5 of 32/mid/64/128/256 channels at 1/1, 1/2, 1/4, 1/8, 1/16,
    ``image_fea`` [N,128,H/8,W/8] from the RGB channels and ``unknown`` [N,1,H/8,W/8] float
    {0,1}: where channel 3 equals 1, i.e. the trimap's FOREGROUND (255/255). That is what
    PaddleSeg's 4-channel GCA feeds its attention as "unknown" (upstream GCA-Matting, with a
    one-hot trimap, uses the unknown band); it is kept so that its weights behave the same.
    """

    def __init__(self, input_channels: int = 4, layers: Sequence[int] = (3, 4, 4, 2),
                 late_downsample: bool = False, pretrained: Optional[str] = None):
        super().__init__()
        if input_channels != 4:
            raise ValueError(f'ResGuidedCxtAtten: input_channels must be 4 (RGB + trimap/255, as '
                             f'GCA feeds it), got {input_channels}.')
        if len(layers) != 4:
            raise ValueError(f'ResGuidedCxtAtten: layers must list 4 block counts, got {list(layers)}.')
        self.input_channels = input_channels
        self.pretrained = pretrained
        mid = 64 if late_downsample else 32
        strides = [1, 2, 1, 2] if late_downsample else [2, 1, 2, 1]
        self.conv1 = sn_conv(input_channels, 32, 3, stride=strides[0])
        self.conv2 = sn_conv(32, mid, 3, stride=strides[1])
        self.conv3 = sn_conv(mid, 64, 3, stride=strides[2])
        self.bn1 = nn.BatchNorm2D(32)
        self.bn2 = nn.BatchNorm2D(mid)
        self.bn3 = nn.BatchNorm2D(64)
        self._in_channels = 64
        self.layer1 = self._make_layer(64, layers[0], strides[3])
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer_bottleneck = self._make_layer(512, layers[3], 2)
        self.shortcut = nn.LayerList([
            _shortcut(cin, cout)
            for cin, cout in zip([input_channels, mid, 64, 128, 256], [32, mid, 64, 128, 256])])
        self.guidance_head = _guidance_head()
        self.gca = GuidedCxtAtten(128, 128)
        self.feat_channels = [32, mid, 64, 128, 256, 512]
        init_gca_weights(self, EncoderBlock)

    def _make_layer(self, channels: int, blocks: int, stride: int) -> nn.Sequential:
        if blocks == 0:
            return nn.Sequential(nn.Identity())
        downsample = None
        if stride != 1:
            # average-pool then 1x1 conv: the identity path of a strided block
            downsample = nn.Sequential(nn.AvgPool2D(2, stride), sn_conv(self._in_channels, channels, 1),
                                       nn.BatchNorm2D(channels))
        elif self._in_channels != channels:
            downsample = nn.Sequential(sn_conv(self._in_channels, channels, 1), nn.BatchNorm2D(channels))
        parts = [EncoderBlock(self._in_channels, channels, stride, downsample)]
        self._in_channels = channels
        parts += [EncoderBlock(channels, channels) for _ in range(1, blocks)]
        return nn.Sequential(*parts)


    @staticmethod
    def unknown_mask(x: paddle.Tensor) -> paddle.Tensor:
        """The attention mask of ``x`` [N,4,H,W]: float32 [N,1,H/8,W/8], 1 where channel 3
        (trimap/255) equals 1 (see the class docstring), nearest-sampled at 1/8."""
        return subsample_nearest((x[:, 3:4] == 1.0).astype('float32'), 8)

    def forward(self, x: paddle.Tensor) -> Tuple[paddle.Tensor, Dict]:
        """See the class docstring."""
        out = F.relu(self.bn1(self.conv1(x)))
        x1 = F.relu(self.bn2(self.conv2(out)))  # 1/2
        out = F.relu(self.bn3(self.conv3(x1)))  # 1/4
        image_fea = self.guidance_head(x[:, :3])  # 1/8
        unknown = self.unknown_mask(x)
        x2 = self.layer1(out)  # 1/4
        x3 = self.gca(image_fea, self.layer2(x2), unknown)  # 1/8
        x4 = self.layer3(x3)  # 1/16
        bottleneck = self.layer_bottleneck(x4)  # 1/32
        shortcuts: List[paddle.Tensor] = [branch(feat) for branch, feat in
                                          zip(self.shortcut, (x, x1, x2, x3, x4))]
        return bottleneck, {'shortcut': tuple(shortcuts), 'image_fea': image_fea,
                            'unknown': unknown}

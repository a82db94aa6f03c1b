"""MobileNetV2 (Sandler et al. 2018) as a multi-level feature extractor.

Sub-layer names follow PaddleSeg Matting's MobileNetV2 (``conv1``, ``conv2``..``conv8``
stages with ``_first_block`` and ``conv<i>_<j>`` blocks, ``conv9``), so its ImageNet and
MODNet ``.pdparams`` load unchanged.
"""
from typing import List, Optional

import paddle
import paddle.nn as nn

from ...config import manager
from ..layers import ConvBNAct

# (expansion t, output channels c, blocks n, first stride s) per stage, from the paper's Table 2
_STAGE_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                   (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
# stages whose outputs are returned as features: strides 2, 4, 8 and 16 (conv9 gives stride 32)
_FEATURE_STAGES = (0, 1, 2, 4)


class InvertedResidual(nn.Layer):
    """1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 linear projection, plus the
    identity shortcut when the block keeps shape (stride 1, same channels)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int):
        super().__init__()
        hidden = int(round(in_channels * expansion))
        self._expand_conv = ConvBNAct(in_channels, hidden, 1, act='relu6')
        self._bottleneck_conv = ConvBNAct(hidden, hidden, 3, stride=stride, groups=hidden,
                                          act='relu6')
        self._linear_conv = ConvBNAct(hidden, out_channels, 1, act=None)
        self.use_shortcut = stride == 1 and in_channels == out_channels

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self._linear_conv(self._bottleneck_conv(self._expand_conv(x)))
        return x + y if self.use_shortcut else y


class InvertedResidualStage(nn.Layer):
    """``num_blocks`` inverted residual blocks; only the first one changes stride/channels.

    The first block is ``_first_block``, the others ``<name>_2``, ``<name>_3``, ...
    """

    def __init__(self, name: str, in_channels: int, out_channels: int, num_blocks: int,
                 stride: int, expansion: int):
        super().__init__()
        self._first_block = InvertedResidual(in_channels, out_channels, stride, expansion)
        self._rest = [
            self.add_sublayer(f'{name}_{j}',
                              InvertedResidual(out_channels, out_channels, 1, expansion))
            for j in range(2, num_blocks + 1)
        ]

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self._first_block(x)
        for block in self._rest:
            x = block(x)
        return x


@manager.BACKBONES.add_component
class MobileNetV2(nn.Layer):
    """MobileNetV2 returning five feature maps.

    Args:
        input_channels: channels of the input image (3 for RGB).
        scale: width multiplier applied to every stage (1.0 is the registered model).
        pretrained: path or URL of backbone weights (loaded non-strictly by ``build_model`` after construction), or None.

    Input: float32 [N, input_channels, H, W], normalised image.
    Output: list of 5 float32 tensors at strides 2, 4, 8, 16, 32 (sizes ceil(H/s) x ceil(W/s))
    with ``feat_channels`` channels ([16, 24, 32, 96, 1280] at scale 1.0).
    """

    def __init__(self, input_channels: int = 3, scale: float = 1.0,
                 pretrained: Optional[str] = None):
        super().__init__()
        self.pretrained = pretrained
        in_ch = int(32 * scale)
        self.conv1 = ConvBNAct(input_channels, in_ch, 3, stride=2, act='relu6')

        self.stages = []
        stage_channels = []
        for i, (t, c, n, s) in enumerate(_STAGE_SETTINGS):
            name = f'conv{i + 2}'
            out_ch = int(c * scale)
            self.stages.append(self.add_sublayer(
                name, InvertedResidualStage(name, in_ch, out_ch, n, s, t)))
            stage_channels.append(out_ch)
            in_ch = out_ch

        # the last conv is never narrowed below 1280, as in the paper
        last_ch = int(1280 * scale) if scale > 1.0 else 1280
        self.conv9 = ConvBNAct(in_ch, last_ch, 1, act='relu6')
        self.feat_channels: List[int] = [stage_channels[i] for i in _FEATURE_STAGES] + [last_ch]

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        feats = []
        x = self.conv1(x)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in _FEATURE_STAGES:
                feats.append(x)
        feats.append(self.conv9(x))
        return feats


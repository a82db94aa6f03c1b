"""MobileNetV3 (Howard et al. 2019) as a feature extractor, as PaddleSeg Matting builds it for RVM.

Sub-layer names follow PaddleSeg's ``ppmatting`` MobileNetV3 (``conv``, ``blocks.<i>`` with
``expand_conv`` / ``bottleneck_conv`` / ``mid_se`` / ``linear_conv``, ``last_second_conv``;
each conv block holds ``conv`` and ``bn``), so its ``.pdparams`` (RVM's included) load unchanged.

Details that matter for those weights:
- the input is RGB in [0, 1]; the backbone itself normalises it with the ImageNet mean/std;
- BatchNorm uses epsilon 1e-3 (the TF/PyTorch MobileNetV3 recipe), not Paddle's 1e-5;
- a block whose expansion width equals its input width has no expand conv;
- the SE gate is ``hardsigmoid(x, slope=0.1666667, offset=0.5)`` over a squeeze of
  ``make_divisible(C // 4, 8)`` channels.
"""
from typing import List, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...config import manager
from ..layers import activation_fn

# One row per inverted-residual block:
# (kernel, expansion width, output width, SE, activation, stride, dilation).
# MobileNetV3-Large with output stride 16: the last stride-2 block keeps stride 1 and the
# blocks after it dilate by 2 instead, so the deepest feature stays at 1/16.
LARGE_OS16 = (
    (3, 16, 16, False, 'relu', 1, 1),
    (3, 64, 24, False, 'relu', 2, 1),
    (3, 72, 24, False, 'relu', 1, 1),  # 1/4
    (5, 72, 40, True, 'relu', 2, 1),
    (5, 120, 40, True, 'relu', 1, 1),
    (5, 120, 40, True, 'relu', 1, 1),  # 1/8
    (3, 240, 80, False, 'hardswish', 2, 1),
    (3, 200, 80, False, 'hardswish', 1, 1),
    (3, 184, 80, False, 'hardswish', 1, 1),
    (3, 184, 80, False, 'hardswish', 1, 1),
    (3, 480, 112, True, 'hardswish', 1, 1),
    (3, 672, 112, True, 'hardswish', 1, 1),  # 1/16
    (5, 672, 160, True, 'hardswish', 1, 2),
    (5, 960, 160, True, 'hardswish', 1, 2),
    (5, 960, 160, True, 'hardswish', 1, 2),  # still 1/16 (dilated)
)
# PaddleSeg's default feature blocks for the large variants (strides 4, 8, 16, 32 undilated)
LARGE_OUT_INDEX = (2, 5, 11, 14)
_STEM_CHANNELS = 16
_LAST_CONV_CHANNELS = 960
_BN_EPSILON = 1e-3
_BN_MOMENTUM = 0.99
_SE_REDUCTION = 4
_SE_SLOPE = 0.1666667
_SE_OFFSET = 0.5
# ImageNet statistics of the RGB [0, 1] input
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def make_divisible(value: float, divisor: int = 8, min_value: Optional[int] = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), going one step up when rounding down would lose more than 10 %."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBN(nn.Layer):
    """Conv2D (no bias) -> BatchNorm (eps 1e-3) -> optional activation ('relu', 'hardswish' or None).

    Parameters: ``conv.weight``, ``bn.{weight,bias,_mean,_variance}``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 groups: int = 1, act: Optional[str] = None, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                              padding=(kernel_size - 1) // 2 * dilation, dilation=dilation,
                              groups=groups, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_channels, momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON)
        self._act = activation_fn(act)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.bn(self.conv(x))
        return y if self._act is None else self._act(y)


class SqueezeExcite(nn.Layer):
    """Channel gate: global average -> 1x1 conv -> ReLU -> 1x1 conv -> hardsigmoid -> x * gate."""

    def __init__(self, channels: int):
        super().__init__()
        squeezed = make_divisible(channels // _SE_REDUCTION, 8)
        self.conv1 = nn.Conv2D(channels, squeezed, 1)
        self.conv2 = nn.Conv2D(squeezed, channels, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        gate = self.conv2(F.relu(self.conv1(F.adaptive_avg_pool2d(x, 1))))
        return x * F.hardsigmoid(gate, slope=_SE_SLOPE, offset=_SE_OFFSET)


class InvertedResidualV3(nn.Layer):
    """[1x1 expand] -> kxk depthwise (stride, dilation) -> [SE] -> 1x1 linear, plus the
    identity shortcut when the block keeps the shape (stride 1, same width)."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, kernel_size: int,
                 stride: int, use_se: bool, act: str, dilation: int = 1):
        super().__init__()
        # the first block's expansion equals its input width, and it has no expand conv
        self.expand_conv = (ConvBN(in_channels, mid_channels, 1, act=act)
                            if in_channels != mid_channels else None)
        self.bottleneck_conv = ConvBN(mid_channels, mid_channels, kernel_size, stride=stride,
                                      groups=mid_channels, act=act, dilation=dilation)
        self.mid_se = SqueezeExcite(mid_channels) if use_se else None
        self.linear_conv = ConvBN(mid_channels, out_channels, 1, act=None)
        self.use_shortcut = stride == 1 and in_channels == out_channels

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = x if self.expand_conv is None else self.expand_conv(x)
        y = self.bottleneck_conv(y)
        if self.mid_se is not None:
            y = self.mid_se(y)
        y = self.linear_conv(y)
        return x + y if self.use_shortcut else y


class MobileNetV3(nn.Layer):
    """MobileNetV3 returning the outputs of chosen blocks (and optionally of the last 1x1 conv).

    Args:
        config: block rows ``(kernel, expansion, out, se, act, stride, dilation)``.
        out_index: indices of the blocks whose outputs are returned, in order.
        in_channels: input channels (3).
        scale: width multiplier.
        return_last_conv: also return the output of ``last_second_conv`` (960 channels at 1.0).
        pretrained: path or URL of backbone weights (loaded non-strictly by ``builders.build_model``), or None.

    Input: float32 [N, in_channels, H, W], RGB in [0, 1] (normalised inside with the ImageNet
    mean/std). Output: a list of float32 feature maps, one per ``out_index`` entry (plus the
    last conv's), with ``feat_channels`` channels.
    """

    def __init__(self, config: Sequence[Sequence], out_index: Sequence[int], in_channels: int = 3,
                 scale: float = 1.0, return_last_conv: bool = False,
                 pretrained: Optional[str] = None):
        super().__init__()
        bad = [i for i in out_index if not 0 <= i < len(config)]
        if bad:
            raise ValueError(f'MobileNetV3 out_index must lie in [0, {len(config) - 1}], got {list(out_index)}')
        self.out_index = [int(i) for i in out_index]
        self.return_last_conv = return_last_conv
        self.pretrained = pretrained
        stem = make_divisible(_STEM_CHANNELS * scale)
        self.conv = ConvBN(in_channels, stem, 3, stride=2, act='hardswish')
        blocks, width = [], stem
        for kernel, expansion, out, use_se, act, stride, dilation in config:
            out_width = make_divisible(scale * out)
            blocks.append(InvertedResidualV3(width, make_divisible(scale * expansion), out_width,
                                             kernel, stride, use_se, act, dilation))
            width = out_width
        self.blocks = nn.LayerList(blocks)
        last = make_divisible(scale * _LAST_CONV_CHANNELS)
        self.last_second_conv = ConvBN(width, last, 1, act='hardswish')
        self.feat_channels: List[int] = [make_divisible(scale * config[i][2]) for i in self.out_index]
        if return_last_conv:
            self.feat_channels.append(last)
        # constants, not weights: kept out of the state dict
        self.register_buffer('mean', paddle.to_tensor(_MEAN, 'float32').reshape([1, 3, 1, 1]),
                             persistable=False)
        self.register_buffer('std', paddle.to_tensor(_STD, 'float32').reshape([1, 3, 1, 1]),
                             persistable=False)

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        x = self.conv((x - self.mean) / self.std)
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.out_index:
                feats.append(x)
        if self.return_last_conv:
            feats.append(self.last_second_conv(x))
        return feats



@manager.BACKBONES.add_component
def MobileNetV3_large_x1_0_os16(out_index: Optional[Sequence[int]] = None, **kwargs) -> MobileNetV3:
    """MobileNetV3-Large x1.0 with output stride 16 (dilated last stage), as RVM uses it.

    ``out_index`` defaults to PaddleSeg's (2, 5, 11, 14); RVM's config passes [0, 2, 5] with
    ``return_last_conv: True``, giving features 16@1/2, 24@1/4, 40@1/8 and 960@1/16.
    Other keyword arguments go to :class:`MobileNetV3`.
    """
    return MobileNetV3(LARGE_OS16, LARGE_OUT_INDEX if out_index is None else out_index, **kwargs)

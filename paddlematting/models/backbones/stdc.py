"""STDC networks (Fan et al., "Rethinking BiSeNet For Real-time Semantic Segmentation",
CVPR 2021, arXiv:2104.13188) as multi-level feature extractors, as in PaddleSeg.

Sub-layer names (``features.<i>.conv_list.<j>.conv/bn``, ``avd_layer``) are those of
PaddleSeg's STDCNet, so its ImageNet ``PP_STDCNet1``/``PP_STDCNet2`` weights and the
PP-MattingV2 checkpoints load unchanged.
"""
from typing import List, Optional, Sequence

import paddle
import paddle.nn as nn

from ...config import manager
from ..layers import init_backbone_weights

# channels of the five returned features (strides 2, 4, 8, 16, 32) for STDC1 and STDC2
STDC_CHANNELS = (32, 64, 256, 512, 1024)


class ConvBNReLU(nn.Layer):
    """Conv2D (no bias, padding ``kernel_size // 2``) -> BatchNorm2D -> ReLU.

    Parameters ``conv.weight``, ``bn.{weight,bias,_mean,_variance}``.
    Input float32 [N, in_channels, H, W]; output [N, out_channels, ceil(H/stride), ceil(W/stride)].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                              padding=kernel_size // 2, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.relu(self.bn(self.conv(x)))


class CatBottleneck(nn.Layer):
    """STDC module: a chain of convs whose outputs are concatenated along channels.

    ``num_convs`` ConvBNReLU layers: a 1x1 conv to ``out_channels // 2``, then 3x3 convs
    halving the width each time (the last keeps its input width), so the concatenation has
    ``out_channels`` channels. With ``stride == 2`` the first output is downsampled twice:
    by a depthwise 3x3 conv + BN (``avd_layer``) before the chain, and by a 3x3 average
    pool (no parameters) before it joins the concatenation.

    Input float32 [N, in_channels, H, W]; output [N, out_channels, ceil(H/stride), ceil(W/stride)].
    """

    def __init__(self, in_channels: int, out_channels: int, num_convs: int = 4,
                 stride: int = 1):
        super().__init__()
        if num_convs < 2:
            raise ValueError(f'CatBottleneck needs at least 2 convs, got num_convs={num_convs}')
        if stride not in (1, 2):
            raise ValueError(f'CatBottleneck stride must be 1 or 2, got {stride}')
        self.stride = stride
        half = out_channels // 2
        # widths of the chain: out/2, out/4, out/8, ..., the last conv keeping its input width
        widths = [half] + [out_channels // 2 ** (j + 1) for j in range(1, num_convs - 1)]
        widths.append(widths[-1] if num_convs > 2 else half)
        self.conv_list = nn.LayerList(
            [ConvBNReLU(in_channels, widths[0], kernel_size=1)]
            + [ConvBNReLU(widths[j - 1], widths[j]) for j in range(1, num_convs)])
        if stride == 2:
            self.avd_layer = nn.Sequential(
                nn.Conv2D(half, half, 3, stride=2, padding=1, groups=half, bias_attr=False),
                nn.BatchNorm2D(half))
            self.skip = nn.AvgPool2D(kernel_size=3, stride=2, padding=1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        first = self.conv_list[0](x)
        out = self.avd_layer(first) if self.stride == 2 else first
        outs = []
        for conv in self.conv_list[1:]:
            out = conv(out)
            outs.append(out)
        if self.stride == 2:
            first = self.skip(first)
        return paddle.concat([first] + outs, axis=1)


class STDCNet(nn.Layer):
    """STDC backbone returning five features at strides 2, 4, 8, 16 and 32.

    Args:
        input_channels: channels of the input image.
        channels: widths of the five returned features.
        layers: number of STDC modules in stages 3, 4, 5 (the first of each has stride 2).
        num_convs: convs per STDC module.
        pretrained: path or URL of ImageNet weights (PaddleSeg names), stored for the model
            builder to load (non-strictly: the file carries a classifier this net lacks).

    Input float32 [N, input_channels, H, W] (normalised image). Output: list of 5 float32
    tensors ``[N, channels[i], ceil(H / 2**(i+1)), ceil(W / 2**(i+1))]``.
    ``feat_channels`` lists the five widths.
    """

    def __init__(self, input_channels: int = 3, channels: Sequence[int] = STDC_CHANNELS,
                 layers: Sequence[int] = (4, 5, 3), num_convs: int = 4,
                 pretrained: Optional[str] = None):
        super().__init__()
        if len(channels) != 5 or len(layers) != 3:
            raise ValueError(f'STDCNet needs 5 channels and 3 stage depths, got channels='
                             f'{list(channels)}, layers={list(layers)}')
        self.feat_channels = list(channels)
        self.layers = list(layers)
        features = [ConvBNReLU(input_channels, channels[0], 3, stride=2),
                    ConvBNReLU(channels[0], channels[1], 3, stride=2)]
        for stage, depth in enumerate(layers):
            c_in, c_out = channels[stage + 1], channels[stage + 2]
            features.append(CatBottleneck(c_in, c_out, num_convs, stride=2))
            features += [CatBottleneck(c_out, c_out, num_convs, stride=1)
                         for _ in range(depth - 1)]
        self.features = nn.Sequential(*features)
        # index in ``features`` of the last layer of each returned stage
        ends = [0, 1]
        for depth in layers:
            ends.append(ends[-1] + depth)
        self._stage_ends = ends
        self.pretrained = pretrained
        self.init_weight()

    def init_weight(self) -> None:
        """PaddleSeg's initialisation: conv weights N(0, 0.001), BN scale 1 and shift 0."""
        init_backbone_weights(self)

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        feats = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._stage_ends:
                feats.append(x)
        return feats


@manager.BACKBONES.add_component
def STDC1(**kwargs) -> STDCNet:
    """STDC1: 2/2/2 STDC modules in stages 3-5; features 32/64/256/512/1024 channels."""
    return STDCNet(channels=STDC_CHANNELS, layers=(2, 2, 2), **kwargs)


@manager.BACKBONES.add_component
def STDC2(**kwargs) -> STDCNet:
    """STDC2: 4/5/3 STDC modules in stages 3-5; features 32/64/256/512/1024 channels."""
    return STDCNet(channels=STDC_CHANNELS, layers=(4, 5, 3), **kwargs)

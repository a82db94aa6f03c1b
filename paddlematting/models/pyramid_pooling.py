"""Pyramid pooling module (Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017).

PaddleSeg's variant (``layers.PPModule``): the input is average-pooled to a few fixed grids,
each grid goes through a 1x1 conv-BN-ReLU, is resized back bilinearly, and the input plus the
branches (in reverse bin order) are fused by a 3x3 conv-BN-ReLU. Sub-layer names
(``stages.<i>.1``, ``conv_bn_relu2``) are part of the published weights' keys.
"""
from typing import Sequence

import paddle
import paddle.nn as nn

from .layers import ConvBNAct, resize_bilinear


class PPModule(nn.Layer):
    """Pyramid pooling: ``[N, in_channels, h, w] -> [N, out_channels, h, w]`` float32.

    Args:
        in_channels: channels of the input feature.
        out_channels: channels of the fused output.
        bin_sizes: the pooled grid sizes, one branch each (e.g. (1, 3, 5)).
        dim_reduction: True gives each branch ``in_channels // len(bin_sizes)`` channels,
            False keeps ``in_channels``.
        align_corners: corner alignment of the bilinear resize back to ``h, w``.

    The convolutions have biases (PaddleSeg's ConvBNReLU default).
    """

    def __init__(self, in_channels: int, out_channels: int, bin_sizes: Sequence[int] = (1, 2, 3, 6),
                 dim_reduction: bool = True, align_corners: bool = False):
        super().__init__()
        branch_channels = in_channels // len(bin_sizes) if dim_reduction else in_channels
        self.stages = nn.LayerList([
            nn.Sequential(nn.AdaptiveAvgPool2D((size, size)),
                          ConvBNAct(in_channels, branch_channels, 1, bias=True))
            for size in bin_sizes])
        self.conv_bn_relu2 = ConvBNAct(in_channels + branch_channels * len(bin_sizes),
                                       out_channels, 3, padding=1, bias=True)
        self.align_corners = align_corners

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        size = paddle.shape(x)[2:]
        branches = [resize_bilinear(stage(x), size=size, align_corners=self.align_corners)
                    for stage in self.stages]
        # the coarsest grid comes last, as in PaddleSeg (the fusion conv's weights depend on it)
        return self.conv_bn_relu2(paddle.concat([x] + branches[::-1], axis=1))

"""ResNet-vd backbone (He et al., "Bag of Tricks for Image Classification", 2018).

The "vd" variant differs from a plain ResNet in two places: a stem of three 3x3
convolutions instead of one 7x7, and projection shortcuts that downsample with a
2x2 average pool followed by a stride-1 1x1 conv (instead of a stride-2 1x1 conv
that would skip three quarters of the pixels).

For MODNet the backbone also returns the stem output at 1/2 resolution, which the
high-resolution branch uses as a skip connection.
"""
from typing import List, Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...config import manager
from ..layers import ConvBNAct

__all__ = ['ResNet_vd', 'ResNet18_vd', 'ResNet34_vd', 'ResNet50_vd', 'ResNet101_vd',
           'ResNet152_vd', 'ResNet200_vd']

# blocks per stage for each supported depth
STAGE_DEPTHS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 12, 48, 3),
}
STAGE_WIDTHS = (64, 128, 256, 512)  # inner width of each stage's blocks
STEM_CHANNELS = 64


class _ResidualBlock(nn.Layer):
    """Shared shortcut logic of the basic and bottleneck blocks.

    The first block of every stage projects the shortcut (1x1 conv + BN); when that
    block also downsamples, the projection is preceded by a 2x2 average pool.
    """

    def _build_shortcut(self, in_channels: int, out_channels: int, stride: int,
                        project: bool) -> None:
        if project:
            self.short = ConvBNAct(in_channels, out_channels, 1, act=None)
        self.project = project
        # ceil_mode keeps odd sizes aligned with the stride-2 3x3 conv of the main path
        self.shortcut_pool = nn.AvgPool2D(2, 2, ceil_mode=True) if stride > 1 else None

    def _shortcut(self, x: paddle.Tensor) -> paddle.Tensor:
        if not self.project:
            return x
        if self.shortcut_pool is not None:
            x = self.shortcut_pool(x)
        return self.short(x)


class BottleneckBlock(_ResidualBlock):
    """1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand (x4), plus shortcut, ReLU."""
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int, project: bool):
        super().__init__()
        out_channels = width * self.expansion
        self.conv0 = ConvBNAct(in_channels, width, 1)
        self.conv1 = ConvBNAct(width, width, 3, stride=stride)
        self.conv2 = ConvBNAct(width, out_channels, 1, act=None)
        self._build_shortcut(in_channels, out_channels, stride, project)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.conv2(self.conv1(self.conv0(x)))
        return F.relu(y + self._shortcut(x))


class BasicBlock(_ResidualBlock):
    """Two 3x3 convs (the first carries the stride), plus shortcut, ReLU."""
    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int, project: bool):
        super().__init__()
        self.conv0 = ConvBNAct(in_channels, width, 3, stride=stride)
        self.conv1 = ConvBNAct(width, width, 3, act=None)
        self._build_shortcut(in_channels, width, stride, project)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self.conv1(self.conv0(x))
        return F.relu(y + self._shortcut(x))


class ResNet_vd(nn.Layer):
    """ResNet-vd feature extractor returning five feature maps.

    Args:
        layers: depth, one of 18, 34, 50, 101, 152, 200.
        input_channels: channels of the input image.
        pretrained: path or URL of a checkpoint (PaddleSeg/ImageNet names), loaded
            non-strictly; None keeps Paddle's default initialisation.

    Input: ``[N, input_channels, H, W]`` float32 (normalised image).
    Output: list of 5 float32 tensors, strides 2, 4, 8, 16, 32 (ceil division),
    channels ``feat_channels`` = ``[64, 256, 512, 1024, 2048]`` for depth >= 50,
    ``[64, 64, 128, 256, 512]`` below. Feature 0 is the stem (before max pooling).
    """

    def __init__(self, layers: int = 50, input_channels: int = 3,
                 pretrained: Optional[str] = None):
        super().__init__()
        if layers not in STAGE_DEPTHS:
            raise ValueError('ResNet_vd: layers={} is not one of {}'.format(
                layers, sorted(STAGE_DEPTHS)))
        block_type = BottleneckBlock if layers >= 50 else BasicBlock
        self.layers = layers

        self.conv1_1 = ConvBNAct(input_channels, 32, 3, stride=2)
        self.conv1_2 = ConvBNAct(32, 32, 3)
        self.conv1_3 = ConvBNAct(32, STEM_CHANNELS, 3)
        self.pool2d_max = nn.MaxPool2D(kernel_size=3, stride=2, padding=1)

        self.stages = []  # lists of blocks; registered below under PaddleSeg's names
        in_channels = STEM_CHANNELS
        for s, (depth, width) in enumerate(zip(STAGE_DEPTHS[layers], STAGE_WIDTHS)):
            stage = []
            for i in range(depth):
                first = i == 0
                block = block_type(in_channels, width,
                                   stride=2 if first and s > 0 else 1,
                                   project=first)
                stage.append(self.add_sublayer('bb_%d_%d' % (s, i), block))
                in_channels = width * block_type.expansion
            self.stages.append(stage)

        self.feat_channels = [STEM_CHANNELS] + [w * block_type.expansion for w in STAGE_WIDTHS]
        self.pretrained = pretrained

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        y = self.conv1_3(self.conv1_2(self.conv1_1(x)))
        feats = [y]
        y = self.pool2d_max(y)
        for stage in self.stages:
            for block in stage:
                y = block(y)
            feats.append(y)
        return feats


def _resnet_vd_factory(layers: int):
    def build(**kwargs) -> ResNet_vd:
        return ResNet_vd(layers=layers, **kwargs)
    build.__name__ = 'ResNet%d_vd' % layers
    build.__qualname__ = build.__name__
    build.__doc__ = 'ResNet_vd with depth {}; see ResNet_vd for arguments and outputs.'.format(
        layers)
    return build


ResNet18_vd = manager.BACKBONES.add_component(_resnet_vd_factory(18))
ResNet34_vd = manager.BACKBONES.add_component(_resnet_vd_factory(34))
ResNet50_vd = manager.BACKBONES.add_component(_resnet_vd_factory(50))
ResNet101_vd = manager.BACKBONES.add_component(_resnet_vd_factory(101))
ResNet152_vd = manager.BACKBONES.add_component(_resnet_vd_factory(152))
ResNet200_vd = manager.BACKBONES.add_component(_resnet_vd_factory(200))

"""HRNet backbone (Wang et al., "Deep High-Resolution Representation Learning", 2019).

HRNet keeps a 1/4-resolution branch alive through the whole network and adds a
coarser branch at each stage; every module ends by fusing all branches into every
resolution. The backbone also returns the first stem conv output at 1/2 resolution
(PaddleSeg Matting's layout): MODNet's high-resolution branch and PP-Matting's detail
branch use it as a skip connection. HRNet_W18 and HRNet_W48 differ only in branch widths.

Sublayer names (``la1``, ``tr1``, ``st2.stage_st2_1.fuse_func.residual_st2_1_layer_2_1_1``,
...) follow PaddleSeg's checkpoints so that its ``.pdparams`` load unchanged.
"""
from typing import List, Optional, Sequence, Union

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...config import manager
from ..layers import ConvBNAct, init_backbone_weights, resize_bilinear

__all__ = ['HRNet', 'HRNet_W18', 'HRNet_W48']

STEM_CHANNELS = 64
# 3x3 convs use Paddle's 'same' padding by default (``padding_same=True``): for stride 2 on
# even sizes it pads only the bottom/right edge, unlike padding=1. PaddleSeg's HRNet (and its
# checkpoints) use it; padding=1 shifts every strided feature and misses the reference by ~1.
Padding = Union[int, str]


def _padding(padding_same: bool) -> Padding:
    return 'same' if padding_same else 1


class BottleneckBlock(nn.Layer):
    """1x1 -> 3x3 -> 1x1 (x4 channels) residual block of HRNet's first stage."""
    expansion = 4

    def __init__(self, in_channels: int, width: int, project: bool, pad: Padding = 'same'):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = ConvBNAct(in_channels, width, 1)
        self.conv2 = ConvBNAct(width, width, 3, padding=pad)
        self.conv3 = ConvBNAct(width, out_channels, 1, act=None)
        self.conv_down = ConvBNAct(in_channels, out_channels, 1, act=None) if project else None

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        shortcut = x if self.conv_down is None else self.conv_down(x)
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + shortcut)


class BasicBlock(nn.Layer):
    """Two 3x3 convs with an identity shortcut (channels never change inside a branch)."""

    def __init__(self, channels: int, pad: Padding = 'same'):
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3, padding=pad)
        self.conv2 = ConvBNAct(channels, channels, 3, padding=pad, act=None)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.relu(self.conv2(self.conv1(x)) + x)


class BottleneckStage(nn.Layer):
    """Stage 1: a chain of bottleneck blocks at 1/4 resolution."""

    def __init__(self, in_channels: int, width: int, num_blocks: int, pad: Padding = 'same'):
        super().__init__()
        self.blocks = []
        for i in range(num_blocks):
            block = BottleneckBlock(in_channels, width, project=i == 0, pad=pad)
            self.blocks.append(self.add_sublayer('bb_layer2_%d' % (i + 1), block))
            in_channels = width * BottleneckBlock.expansion

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class TransitionLayer(nn.Layer):
    """Adapts the branches of one stage to the next: re-projects a branch whose width
    changes and spawns the new, coarser branch from the coarsest existing one."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int], name: str,
                 pad: Padding = 'same'):
        super().__init__()
        self.convs = []  # None = pass the branch through unchanged
        for i, c_out in enumerate(out_channels):
            if i < len(in_channels):
                conv = (ConvBNAct(in_channels[i], c_out, 3, padding=pad)
                        if in_channels[i] != c_out else None)
            else:
                conv = ConvBNAct(in_channels[-1], c_out, 3, stride=2, padding=pad)
            if conv is not None:
                self.add_sublayer('transition_%s_layer_%d' % (name, i + 1), conv)
            self.convs.append(conv)

    def forward(self, xs: List[paddle.Tensor]) -> List[paddle.Tensor]:
        outs = []
        for i, conv in enumerate(self.convs):
            x = xs[min(i, len(xs) - 1)]
            outs.append(x if conv is None else conv(x))
        return outs


class Branches(nn.Layer):
    """Runs each resolution branch through its own chain of basic blocks."""

    def __init__(self, channels: Sequence[int], num_blocks: Sequence[int], name: str,
                 pad: Padding = 'same'):
        super().__init__()
        self.chains = []
        for b, (c, n) in enumerate(zip(channels, num_blocks)):
            self.chains.append([
                self.add_sublayer('bb_%s_branch_layer_%d_%d' % (name, b + 1, j + 1),
                                  BasicBlock(c, pad)) for j in range(n)])

    def forward(self, xs: List[paddle.Tensor]) -> List[paddle.Tensor]:
        outs = []
        for x, chain in zip(xs, self.chains):
            for block in chain:
                x = block(x)
            outs.append(x)
        return outs


class FuseLayers(nn.Layer):
    """Exchanges information between branches: output i = ReLU(sum over branches j of
    branch j brought to resolution i). Coarser branches are 1x1-projected then
    bilinearly upsampled; finer ones go through (i - j) stride-2 3x3 convs."""

    def __init__(self, channels: Sequence[int], name: str, align_corners: bool = False,
                 pad: Padding = 'same'):
        super().__init__()
        self.align_corners = align_corners
        n = len(channels)
        self.paths = [[None] * n for _ in range(n)]  # paths[i][j]: branch j -> resolution i
        for i in range(n):
            for j in range(n):
                if j > i:
                    self.paths[i][j] = [self.add_sublayer(
                        'residual_%s_layer_%d_%d' % (name, i + 1, j + 1),
                        ConvBNAct(channels[j], channels[i], 1, act=None))]
                elif j < i:
                    path, c_in = [], channels[j]
                    for k in range(i - j):
                        last = k == i - j - 1
                        # intermediate steps keep branch j's width; only the last
                        # one changes width and skips the ReLU (a sum follows)
                        c_out = channels[i] if last else channels[j]
                        conv = ConvBNAct(c_in, c_out, 3, stride=2, padding=pad,
                                         act=None if last else 'relu')
                        path.append(self.add_sublayer(
                            'residual_%s_layer_%d_%d_%d' % (name, i + 1, j + 1, k + 1), conv))
                        c_in = c_out
                    self.paths[i][j] = path

    def forward(self, xs: List[paddle.Tensor]) -> List[paddle.Tensor]:
        outs = []
        for i, row in enumerate(self.paths):
            y = xs[i]
            for j, path in enumerate(row):
                if path is None:
                    continue
                z = xs[j]
                for conv in path:
                    z = conv(z)
                if j > i:
                    # paddle.shape keeps the size dynamic in exported (static) graphs
                    z = resize_bilinear(z, size=paddle.shape(xs[i])[2:],
                                        align_corners=self.align_corners)
                y = y + z
            outs.append(F.relu(y))
        return outs


class HighResolutionModule(nn.Layer):
    """Branches followed by their fusion."""

    def __init__(self, channels: Sequence[int], num_blocks: Sequence[int], name: str,
                 align_corners: bool = False, pad: Padding = 'same'):
        super().__init__()
        self.branches_func = Branches(channels, num_blocks, name, pad)
        self.fuse_func = FuseLayers(channels, name, align_corners, pad)

    def forward(self, xs: List[paddle.Tensor]) -> List[paddle.Tensor]:
        return self.fuse_func(self.branches_func(xs))


class Stage(nn.Layer):
    """A chain of high-resolution modules sharing the same branch widths."""

    def __init__(self, channels: Sequence[int], num_modules: int, num_blocks: Sequence[int],
                 name: str, align_corners: bool = False, pad: Padding = 'same'):
        super().__init__()
        self.hr_modules = []
        for m in range(num_modules):
            module_name = '%s_%d' % (name, m + 1)
            self.hr_modules.append(self.add_sublayer(
                'stage_' + module_name,
                HighResolutionModule(channels, num_blocks, module_name, align_corners, pad)))

    def forward(self, xs: List[paddle.Tensor]) -> List[paddle.Tensor]:
        for module in self.hr_modules:
            xs = module(xs)
        return xs


class HRNet(nn.Layer):
    """HRNet feature extractor returning the 1/2 stem feature and the four branches.

    Args:
        branch_channels: widths of the 4 final branches (W18: 18, 36, 72, 144); stage k
            (k = 2, 3, 4) uses the first k of them.
        stage_modules: number of high-resolution modules in stages 2, 3, 4.
        stage_blocks: basic blocks per branch in each module of stages 2, 3, 4.
        stage1_blocks, stage1_width: bottleneck blocks of stage 1 and their inner width.
        input_channels: channels of the input image.
        align_corners: passed to the bilinear upsampling in the fusion layers.
        padding_same: pad every 3x3 conv with Paddle's 'same' padding (PaddleSeg's default
            and what its checkpoints were trained with); False pads 1 on every side.
        pretrained: path or URL of a checkpoint (PaddleSeg names), loaded non-strictly by ``build_model``;
            None keeps the initialisation below.

    Input: ``[N, input_channels, H, W]`` float32 (normalised image).
    Output: list of 5 float32 tensors at strides 2, 4, 8, 16, 32 (ceil division) with
    channels ``feat_channels`` = ``[64] + branch_channels``.
    """

    def __init__(self,
                 branch_channels: Sequence[int] = (18, 36, 72, 144),
                 stage_modules: Sequence[int] = (1, 4, 3),
                 stage_blocks: Sequence[int] = (4, 4, 4),
                 stage1_blocks: int = 4,
                 stage1_width: int = 64,
                 input_channels: int = 3,
                 align_corners: bool = False,
                 padding_same: bool = True,
                 pretrained: Optional[str] = None):
        super().__init__()
        if len(branch_channels) != 4 or len(stage_modules) != 3 or len(stage_blocks) != 3:
            raise ValueError('HRNet: expected 4 branch_channels and 3 stage_modules/stage_blocks, '
                             'got {}, {}, {}'.format(branch_channels, stage_modules, stage_blocks))
        branch_channels = list(branch_channels)
        pad = _padding(padding_same)
        self.conv_layer1_1 = ConvBNAct(input_channels, STEM_CHANNELS, 3, stride=2, padding=pad)
        self.conv_layer1_2 = ConvBNAct(STEM_CHANNELS, STEM_CHANNELS, 3, stride=2, padding=pad)
        self.la1 = BottleneckStage(STEM_CHANNELS, stage1_width, stage1_blocks, pad)

        prev = [stage1_width * BottleneckBlock.expansion]
        for k, (modules, blocks) in enumerate(zip(stage_modules, stage_blocks), start=2):
            channels = branch_channels[:k]
            # registered in PaddleSeg's order: tr1, st2, tr2, st3, tr3, st4
            setattr(self, 'tr%d' % (k - 1),
                    TransitionLayer(prev, channels, 'tr%d' % (k - 1), pad))
            setattr(self, 'st%d' % k, Stage(channels, modules, [blocks] * k, 'st%d' % k,
                                            align_corners, pad))
            prev = channels

        self.feat_channels = [STEM_CHANNELS] + branch_channels
        self.pretrained = pretrained
        self.init_weight()

    def init_weight(self) -> None:
        """Initialise (``pretrained`` is loaded by ``builders.build_model`` afterwards)."""
        init_backbone_weights(self)

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        stem = self.conv_layer1_1(x)
        xs = [self.la1(self.conv_layer1_2(stem))]
        for k in (2, 3, 4):
            xs = getattr(self, 'tr%d' % (k - 1))(xs)
            xs = getattr(self, 'st%d' % k)(xs)
        return [stem] + xs


@manager.BACKBONES.add_component
def HRNet_W18(**kwargs) -> HRNet:
    """HRNet with branch widths 18/36/72/144 (1/4/3 modules, 4 blocks per branch)."""
    return HRNet(branch_channels=(18, 36, 72, 144), **kwargs)


@manager.BACKBONES.add_component
def HRNet_W48(**kwargs) -> HRNet:
    """HRNet with branch widths 48/96/192/384 (1/4/3 modules, 4 blocks per branch)."""
    return HRNet(branch_channels=(48, 96, 192, 384), **kwargs)

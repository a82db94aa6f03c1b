"""The building blocks of BiRefNet's squeeze block and decoder (see models/birefnet.py).

Attribute names (``atrous_conv.offset_conv``, ``aspp_deforms.<i>``, ``global_avg_pool.1``,
``conv_in``/``bn_in``/``dec_att``/``conv_out``/``bn_out``) and their order are those of the
original PyTorch modules, so the published state dicts map onto them key by key.
"""
from typing import Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.vision.ops import deform_conv2d

from .layers import resize_align_corners

# ASPP branch width of the original (256 // config.scale, scale 1)
_ASPP_CHANNELS = 256
# width inside every BasicDecBlk (dec_channels_inter='fixed')
DEC_INTER_CHANNELS = 64


def resize_as(x: paddle.Tensor, size) -> paddle.Tensor:
    """Bilinear resize with ``align_corners=True``, the mode of every resize in BiRefNet
    (``layers.resize_align_corners``: exportable)."""
    return resize_align_corners(x, size)


def image2patches(x: paddle.Tensor, h: int, w: int) -> paddle.Tensor:
    """Tile [B, C, hg·h, wg·w] into [B, C·hg·wg, h, w], einops' ``b c (hg h) (wg w) ->
    b (c hg wg) h w``: channel c·hg·wg + i·wg + j holds tile row i, column j."""
    _, c, height, width = x.shape
    hg, wg = height // h, width // w
    x = x.reshape([-1, c, hg, h, wg, w]).transpose([0, 1, 2, 4, 3, 5])
    return x.reshape([-1, c * hg * wg, h, w])


class DeformableConv2d(nn.Layer):
    """Modulated deformable conv (DCNv2) with offsets and mask predicted from its input.

    offset = ``offset_conv(x)`` (2k² channels: channel 2i is Δy, 2i+1 Δx of tap i, taps
    row-major; torchvision's layout, which Paddle's ``deform_conv2d`` shares), mask =
    2·sigmoid(``modulator_conv(x)``) in (0, 2), sampling bilinear with zeros outside.
    [B, in, H, W] -> [B, out, H, W] (stride 1, padding k // 2).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        taps = kernel_size * kernel_size
        self.padding = kernel_size // 2
        zero = nn.initializer.Constant(0.0)  # the original starts as a plain conv
        self.offset_conv = nn.Conv2D(in_channels, 2 * taps, kernel_size, padding=self.padding,
                                     weight_attr=paddle.ParamAttr(initializer=zero),
                                     bias_attr=paddle.ParamAttr(initializer=zero))
        self.modulator_conv = nn.Conv2D(in_channels, taps, kernel_size, padding=self.padding,
                                        weight_attr=paddle.ParamAttr(initializer=zero),
                                        bias_attr=paddle.ParamAttr(initializer=zero))
        self.regular_conv = nn.Conv2D(in_channels, out_channels, kernel_size,
                                      padding=self.padding, bias_attr=False)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        offset = self.offset_conv(x)
        mask = 2.0 * F.sigmoid(self.modulator_conv(x))
        return deform_conv2d(x, offset, self.regular_conv.weight, padding=self.padding,
                             mask=mask)


class ASPPModuleDeformable(nn.Layer):
    """DeformableConv2d (no bias) -> BatchNorm -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.atrous_conv = DeformableConv2d(in_channels, out_channels, kernel_size)
        self.bn = nn.BatchNorm2D(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.relu(self.bn(self.atrous_conv(x)))


class ASPPDeformable(nn.Layer):
    """ASPP with deformable branches: a 1x1 branch (``aspp1``), deformable branches of
    kernel 1, 3, 7 (``aspp_deforms``) and global pooling, concatenated (5·256 channels),
    then 1x1 conv -> BN -> ReLU -> Dropout(0.5). [B, C, H, W] -> [B, C, H, W]."""

    def __init__(self, in_channels: int, kernel_sizes: Sequence[int] = (1, 3, 7)):
        super().__init__()
        mid = _ASPP_CHANNELS
        self.aspp1 = ASPPModuleDeformable(in_channels, mid, 1)
        self.aspp_deforms = nn.LayerList([ASPPModuleDeformable(in_channels, mid, k)
                                          for k in kernel_sizes])
        self.global_avg_pool = nn.Sequential(
            nn.AdaptiveAvgPool2D(1), nn.Conv2D(in_channels, mid, 1, bias_attr=False),
            nn.BatchNorm2D(mid), nn.ReLU())
        self.conv1 = nn.Conv2D(mid * (2 + len(kernel_sizes)), in_channels, 1, bias_attr=False)
        self.bn1 = nn.BatchNorm2D(in_channels)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x1 = self.aspp1(x)
        branches = [x1] + [aspp(x) for aspp in self.aspp_deforms]
        branches.append(resize_as(self.global_avg_pool(x), x1.shape[-2:]))
        x = self.relu(self.bn1(self.conv1(paddle.concat(branches, axis=1))))
        return self.dropout(x)


class BasicDecBlk(nn.Layer):
    """conv_in 3x3 (-> 64) -> bn_in -> ReLU -> ASPPDeformable -> conv_out 3x3 -> bn_out
    (no activation). [B, in, H, W] -> [B, out, H, W]."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        inter = DEC_INTER_CHANNELS
        self.conv_in = nn.Conv2D(in_channels, inter, 3, padding=1)
        self.relu_in = nn.ReLU()
        self.dec_att = ASPPDeformable(inter)
        self.conv_out = nn.Conv2D(inter, out_channels, 3, padding=1)
        self.bn_in = nn.BatchNorm2D(inter)
        self.bn_out = nn.BatchNorm2D(out_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.dec_att(self.relu_in(self.bn_in(self.conv_in(x))))
        return self.bn_out(self.conv_out(x))


class SimpleConvs(nn.Layer):
    """The image-patch branch: conv1 3x3 (-> 64) then conv_out 3x3, no activation between."""

    def __init__(self, in_channels: int, out_channels: int, inter_channels: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2D(in_channels, inter_channels, 3, padding=1)
        self.conv_out = nn.Conv2D(inter_channels, out_channels, 3, padding=1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.conv_out(self.conv1(x))


def gdt_convs(in_channels: int, channels: int = 16) -> nn.Sequential:
    """The gradient branch's shared trunk: conv 3x3 -> BN -> ReLU (``gdt_convs_K``)."""
    return nn.Sequential(nn.Conv2D(in_channels, channels, 3, padding=1),
                         nn.BatchNorm2D(channels), nn.ReLU())


def conv1x1_head(in_channels: int) -> nn.Sequential:
    """A one-channel 1x1 conv inside a Sequential (``gdt_convs_attn_K.0``, ``conv_out1.0``)."""
    return nn.Sequential(nn.Conv2D(in_channels, 1, 1))

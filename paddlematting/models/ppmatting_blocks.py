"""The two branches of PP-Matting (Chen et al., "PP-Matting: High-Accuracy Natural Image
Matting", arXiv:2204.09433) and the pyramid pooling module its semantic branch starts with.

* :class:`PyramidPoolingModule`: PSPNet's context module on the coarsest backbone feature.
* :class:`SemanticContextBranch` (SCB): decodes the stride-32 feature back to full resolution
  in six stages and predicts 3 classes (0 foreground, 1 transition, 2 background).
* :class:`HighResolutionDetailBranch` (HRDB): residual blocks on the full-resolution
  stride-2/4 features, each gated by a one-channel "guidance flow" projected from an SCB stage.

Sub-layer names (``psp_module.stages.0.1``, ``scb_stages``, ``gf_list``, ``res_list``,
``gates.0._gate_conv``, ...) follow PaddleSeg's checkpoints so its ``.pdparams`` load
unchanged. Its ConvBNReLU blocks in these branches keep their conv bias (unlike HRNet's).
"""
from typing import List, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .backbones.resnet_vd import BasicBlock
from .layers import ConvBNAct, resize_bilinear

__all__ = ['PyramidPoolingModule', 'SemanticContextBranch', 'HighResolutionDetailBranch',
           'GatedSpatialConv', 'adaptive_avg_pool_exportable']

# SCB stage widths (PaddleSeg's): input (before the concatenated context), middle, output
PSP_CHANNELS = 512
SCB_MID_CHANNELS = (512, 256, 128, 128, 64, 64)
SCB_OUT_CHANNELS = (256, 128, 64, 64, 64, 3)
# stages 1..4 concatenate the pooled context, upsampled to their input stride (32 / 2**i)
SCB_CONTEXT_SCALES = (2, 4, 8, 16)
# HRDB widths, and which SCB stages steer its three gates
HRDB_CHANNELS = (64, 32, 16, 8)
HRDB_GUIDANCE_STAGES = (0, 2, 4)


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, padding: int = 1,
                  dilation: int = 1) -> ConvBNAct:
    """PaddleSeg's ``layers.ConvBNReLU`` as the SCB uses it: the conv keeps its bias."""
    return ConvBNAct(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation,
                     bias=True)


class _Upsample(nn.Layer):
    """Bilinear upsampling by a fixed integer factor (half-pixel centres); no parameters."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return resize_bilinear(x, scale=self.scale)


def _window_bounds(length: paddle.Tensor, bins: int):
    """Start and end (int64 [bins]) of adaptive pooling's windows along an axis of ``length``:
    ``[floor(i * L / bins), ceil((i + 1) * L / bins))``, the windows of ``AdaptiveAvgPool2D``."""
    size = paddle.cast(length, 'int64')
    i = paddle.arange(bins, dtype='int64')
    start = (i * size) // bins
    end = ((i + 1) * size + bins - 1) // bins
    return start, end


def _pool_axis(x: paddle.Tensor, axis: int, bins: int) -> paddle.Tensor:
    """Adaptive average along ``axis`` of x [N, C, H, W] through a cumulative sum."""
    start, end = _window_bounds(paddle.shape(x)[axis], bins)
    # prefix sums with a leading zero: window sum = total[end] - total[start]
    zero = paddle.zeros_like(paddle.slice(x, axes=[axis], starts=[0], ends=[1]))
    total = paddle.concat([zero, paddle.cumsum(x, axis=axis)], axis=axis)
    sums = paddle.index_select(total, end, axis=axis) - paddle.index_select(total, start, axis=axis)
    count = paddle.cast(end - start, x.dtype)
    shape = [1, 1, 1, 1]
    shape[axis] = bins
    return sums / count.reshape(shape)


def adaptive_avg_pool_exportable(x: paddle.Tensor, bins: int) -> paddle.Tensor:
    """``AdaptiveAvgPool2D(bins)`` from cumulative sums (float32 [N,C,H,W] -> [N,C,b,b]).

    Equal to the pooling op up to float32 rounding (the stride-32 maps it pools are small);
    unlike it, it converts to ONNX for dynamic input sizes and for sizes that the bins do not
    divide. (A formulation as products with averaging matrices also converted, but Paddle
    Inference 3.2 computed it wrongly inside the exported PP-Matting network.)
    """
    return _pool_axis(_pool_axis(x, 2, bins), 3, bins)


class PyramidPoolingModule(nn.Layer):
    """PSPNet pyramid pooling without channel reduction.

    Each bin size b average-pools the input to b x b, applies a 1x1 ConvBNReLU (same width)
    and is upsampled back bilinearly; ``[x] + pooled (largest bin first)`` are concatenated
    and fused by a 3x3 ConvBNReLU.

    In dygraph the pooling is Paddle's adaptive pooling op (bit-identical with PaddleSeg);
    in a static (exported) program it is :func:`adaptive_avg_pool_exportable`, because
    paddle2onnx converts adaptive pooling only for fixed sizes that the bins divide.

    Input float32 [N, C, h, w]; output float32 [N, out_channels, h, w].
    """

    def __init__(self, in_channels: int, out_channels: int, bin_sizes: Sequence[int] = (1, 3, 5)):
        super().__init__()
        self.bin_sizes = list(bin_sizes)
        self.stages = nn.LayerList([
            nn.Sequential(nn.AdaptiveAvgPool2D(output_size=(b, b)),
                          _conv_bn_relu(in_channels, in_channels, 1, padding=0))
            for b in bin_sizes])
        self.conv_bn_relu2 = _conv_bn_relu(in_channels * (len(bin_sizes) + 1), out_channels, 3)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        size = paddle.shape(x)[2:]
        if paddle.in_dynamic_mode():
            pooled = [stage(x) for stage in self.stages]
        else:
            # stage[0] is the pooling op, stage[1] the ConvBNReLU
            pooled = [stage[1](adaptive_avg_pool_exportable(x, b))
                      for stage, b in zip(self.stages, self.bin_sizes)]
        pooled = [resize_bilinear(p, size=size) for p in pooled]
        # PaddleSeg's concatenation order: the input, then the bins from the largest
        return self.conv_bn_relu2(paddle.concat([x] + pooled[::-1], axis=1))


class SemanticContextBranch(nn.Layer):
    """SCB: stride-32 feature -> six logits, the last one [N, 3, 32h, 32w] (class scores).

    Stage i (0..4) is ConvBNReLU x3 then a x2 bilinear upsampling; stage 0 sees the pooled
    context and the feature, stages 1..4 the context upsampled to their stride and the
    previous stage; stage 5 maps 64 channels to the 3 class logits at full resolution.
    Stage 0's last two convs are dilated by 2.

    Args:
        in_channels: channels of the stride-32 backbone feature.
    Attributes:
        out_channels: the channels of the six stage outputs (256, 128, 64, 64, 64, 3).
    """

    def __init__(self, in_channels: int):
        super().__init__()
        self.out_channels = list(SCB_OUT_CHANNELS)
        self.psp_module = PyramidPoolingModule(in_channels, PSP_CHANNELS)
        self.psps = nn.LayerList([
            nn.Sequential(_conv_bn_relu(PSP_CHANNELS, SCB_OUT_CHANNELS[i], 3), _Upsample(scale))
            for i, scale in enumerate(SCB_CONTEXT_SCALES)])
        # stage i >= 1 takes the previous output, plus (i <= 4) the context of the same width
        stage_in = [PSP_CHANNELS + in_channels] + [
            SCB_OUT_CHANNELS[i - 1] * (2 if i <= len(SCB_CONTEXT_SCALES) else 1)
            for i in range(1, len(SCB_OUT_CHANNELS))]
        stages = []
        for i, (c_in, mid, out) in enumerate(zip(stage_in, SCB_MID_CHANNELS, SCB_OUT_CHANNELS)):
            if i == len(SCB_OUT_CHANNELS) - 1:
                stages.append(nn.Sequential(
                    _conv_bn_relu(c_in, mid, 3), _conv_bn_relu(mid, mid, 3),
                    nn.Conv2D(mid, out, 3, padding=1)))
            else:
                rate = 2 if i == 0 else 1
                stages.append(nn.Sequential(
                    _conv_bn_relu(c_in, mid, 3),
                    _conv_bn_relu(mid, mid, 3, padding=rate, dilation=rate),
                    _conv_bn_relu(mid, out, 3, padding=rate, dilation=rate),
                    _Upsample(2)))
        self.scb_stages = nn.LayerList(stages)

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        """x float32 [N, C, h, w] -> six float32 logits at strides 16, 8, 4, 2, 1, 1 of the
        input image (sizes 2h.., 32h; channels ``out_channels``)."""
        context = self.psp_module(x)
        x = paddle.concat([context, x], axis=1)
        logits = []
        for i, stage in enumerate(self.scb_stages):
            if 1 <= i <= len(self.psps):
                x = paddle.concat([self.psps[i - 1](context), x], axis=1)
            x = stage(x)
            logits.append(x)
        return logits


class GatedSpatialConv(nn.Layer):
    """Gated spatial convolution: ``conv(x * (1 + gate))`` with the gate a sigmoid map computed
    from ``x`` and a one-channel guidance map (BN -> 1x1 -> ReLU -> 1x1 -> BN -> sigmoid).

    Input x float32 [N, C, H, W] and guidance [N, 1, H, W]; output [N, out_channels, H, W].
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        c = in_channels + 1
        self._gate_conv = nn.Sequential(
            nn.BatchNorm2D(c), nn.Conv2D(c, c, 1), nn.ReLU(), nn.Conv2D(c, 1, 1),
            nn.BatchNorm2D(1), nn.Sigmoid())
        self.conv = nn.Conv2D(in_channels, out_channels, 1, bias_attr=False)

    def forward(self, x: paddle.Tensor, guidance: paddle.Tensor) -> paddle.Tensor:
        gate = self._gate_conv(paddle.concat([x, guidance], axis=1))
        return self.conv(x * (gate + 1))


class HighResolutionDetailBranch(nn.Layer):
    """HRDB: full-resolution detail logit guided by SCB stages 0, 2 and 4.

    Three steps, each: a ResNet-vd basic block, a 1x1 conv halving the width (64 -> 32 ->
    16 -> 8), and a gated conv whose guidance is a 1x1 projection of an SCB logit resized
    to full resolution. A final 1x1 conv gives the one-channel detail logit.

    Args:
        in_channels: channels of the concatenated full-resolution backbone features.
        scb_channels: channels of the six SCB logits.
    """

    def __init__(self, in_channels: int, scb_channels: Sequence[int]):
        super().__init__()
        widths = HRDB_CHANNELS
        self.gf_index = list(HRDB_GUIDANCE_STAGES)
        self.gf_list = nn.LayerList([nn.Conv2D(scb_channels[i], 1, 1) for i in self.gf_index])
        # only the first block changes width, so only it projects its shortcut
        self.res_list = nn.LayerList(
            [BasicBlock(in_channels, widths[0], stride=1, project=True)]
            + [BasicBlock(c, c, stride=1, project=False) for c in widths[1:-1]])
        self.convs = nn.LayerList([nn.Conv2D(widths[i], widths[i + 1], 1)
                                   for i in range(len(widths) - 1)])
        self.gates = nn.LayerList([GatedSpatialConv(c, c) for c in widths[1:]])
        self.detail_conv = nn.Conv2D(widths[-1], 1, 1, bias_attr=False)

    def forward(self, x: paddle.Tensor, scb_logits: Sequence[paddle.Tensor]) -> paddle.Tensor:
        """x float32 [N, in_channels, H, W] -> detail logit float32 [N, 1, H, W]."""
        for block, conv, gf, gate, idx in zip(self.res_list, self.convs, self.gf_list,
                                              self.gates, self.gf_index):
            x = conv(block(x))
            guidance = resize_bilinear(gf(scb_logits[idx]), size=paddle.shape(x)[2:])
            x = gate(x, guidance)
        return self.detail_conv(x)

"""Building blocks of PP-MattingV2: the double pyramid pool module (DPP) with its small
transformer, the multi-level feature fusion (MLFF) and the matting heads.

Sub-layer names follow PaddleSeg's ``ppmattingv2.py`` and ``tensor_fusion.py`` (``c``/``bn``
in the transformer, ``_conv``/``_batch_norm`` elsewhere), so published weights load unchanged.
"""
from typing import List, Sequence, Union

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .layers import ConvBNAct, resize_bilinear

# the DPP transformer's attention geometry (fixed in PaddleSeg)
_KEY_DIM = 16
_NUM_HEADS = 8



def merge_features(parts: List[paddle.Tensor], merge_type: str) -> paddle.Tensor:
    """'concat': the parts stacked along channels; 'add': their sum, left to right (the
    summation order matters to the last float bit, and is PaddleSeg's)."""
    if merge_type == 'concat':
        return paddle.concat(parts, axis=1)
    merged = parts[0]
    for part in parts[1:]:
        merged = merged + part
    return merged

class Conv2DBN(nn.Layer):
    """1x1 Conv2D without bias -> BatchNorm2D (the transformer's projections).

    Parameters ``c.weight``, ``bn.{weight,bias,_mean,_variance}``.
    float32 [N, in_channels, H, W] -> [N, out_channels, H, W].
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.c = nn.Conv2D(in_channels, out_channels, 1, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.bn(self.c(x))


class Attention(nn.Layer):
    """Multi-head self-attention over the H*W positions of a feature map.

    ``num_heads`` heads of query/key width ``key_dim`` and value width
    ``attn_ratio * key_dim``. The logits ``q . k`` are NOT scaled by 1/sqrt(key_dim)
    (PaddleSeg defines the scale but never applies it; the published weights expect that).
    Output: ReLU6 then a 1x1 Conv2DBN back to ``dim`` channels.
    float32 [N, dim, H, W] -> [N, dim, H, W].
    """

    def __init__(self, dim: int, key_dim: int, num_heads: int, attn_ratio: float):
        super().__init__()
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = int(attn_ratio * key_dim)
        self.to_q = Conv2DBN(dim, key_dim * num_heads)
        self.to_k = Conv2DBN(dim, key_dim * num_heads)
        self.to_v = Conv2DBN(dim, self.value_dim * num_heads)
        self.proj = nn.Sequential(nn.ReLU6(), Conv2DBN(self.value_dim * num_heads, dim))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        size = paddle.shape(x)
        # [N, heads, d, HW] each; the transposes live in matmul's flags, because Paddle
        # Inference (3.2) multiplies an explicitly transposed operand wrongly here
        q = self.to_q(x).reshape([0, self.num_heads, self.key_dim, -1])
        k = self.to_k(x).reshape([0, self.num_heads, self.key_dim, -1])
        v = self.to_v(x).reshape([0, self.num_heads, self.value_dim, -1])
        # attn[n, h, i, j] = softmax_j(q_i . k_j): [N, heads, HW, HW]
        attn = F.softmax(paddle.matmul(q, k, transpose_x=True), axis=-1)
        # out[n, h, :, i] = sum_j attn[i, j] v_j: [N, heads, d, HW]
        out = paddle.matmul(v, attn, transpose_y=True)
        out = out.reshape([0, self.value_dim * self.num_heads, size[2], size[3]])
        return self.proj(out)


class MLP(nn.Layer):
    """1x1 Conv2DBN -> depthwise 3x3 conv (with bias) -> ReLU6 -> 1x1 Conv2DBN.

    float32 [N, dim, H, W] -> [N, dim, H, W]; the hidden width is ``hidden``.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = Conv2DBN(dim, hidden)
        self.dwconv = nn.Conv2D(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.ReLU6()
        self.fc2 = Conv2DBN(hidden, dim)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x))))


class TransformerBlock(nn.Layer):
    """``x + attn(x)``, then ``+ mlp(.)``: float32 [N, dim, H, W] -> same shape."""

    def __init__(self, dim: int, key_dim: int, num_heads: int, mlp_ratio: float,
                 attn_ratio: float):
        super().__init__()
        self.attn = Attention(dim, key_dim, num_heads, attn_ratio)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class BasicLayer(nn.Layer):
    """``num_blocks`` transformer blocks in sequence (``transformer_blocks.<i>``)."""

    def __init__(self, num_blocks: int, dim: int, key_dim: int, num_heads: int,
                 mlp_ratio: float, attn_ratio: float):
        super().__init__()
        self.transformer_blocks = nn.LayerList(
            [TransformerBlock(dim, key_dim, num_heads, mlp_ratio, attn_ratio)
             for _ in range(num_blocks)])

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        for block in self.transformer_blocks:
            x = block(x)
        return x


def _resize_bins(x: paddle.Tensor, size: paddle.Tensor, align_corners: bool) -> paddle.Tensor:
    """Bilinear resize of a small map [N,C,b,b] to ``size`` (H, W), the same on every backend.

    Paddle's own kernel (dygraph, and the reference) maps an output side of size 1 to the
    input's FIRST row/column, while the oneDNN kernel of Paddle Inference on CPU averages
    the middle ones. Where a target side is 1, every row (column) is first replaced by the
    first one, so any average of them is that row exactly: both give the dygraph result,
    and exports agree for inputs whose DPP grid is one cell high or wide (sides of 64 or
    96 pixels). Elsewhere the map is unchanged.
    """
    x = paddle.where(size[0] == 1, x[:, :, :1, :], x)
    x = paddle.where(size[1] == 1, x[:, :, :, :1], x)
    return resize_bilinear(x, size, align_corners=align_corners)


def pyramid_pool_aggregate(feats: Sequence[paddle.Tensor], stride: int) -> paddle.Tensor:
    """Average-pool every feature to a common grid and concatenate.

    ``feats`` are k maps, each half the size of the one before. The i-th (from 0) is pooled
    with kernel ``2 ** (k - i)`` and stride ``stride ** (k - i)`` (PaddleSeg's rule), so for
    stride 2 all land at half the size of the last map (floor division, no padding).
    Returns float32 [N, sum of channels, h, w].
    """
    k = len(feats)
    out = [F.avg_pool2d(x, 2 ** (k - i), stride ** (k - i)) for i, x in enumerate(feats)]
    return paddle.concat(out, axis=1)


class DoublePyramidPoolModule(nn.Layer):
    """DPP: pool the backbone features to a common coarse grid (first pyramid), reduce them
    with a 1x1 ConvBN, then pool to each of ``bin_sizes`` (second pyramid), run a small
    transformer per bin, resize back and merge with the reduced map by sum (``'add'``) or
    concatenation (``'concat'``), and finish with a 1x1 ConvBNReLU.

    Args:
        stride: scale step between the input features (2).
        input_channel: total channels of the input features.
        mid_channel: width after the first pyramid and of the transformers.
        output_channel: output width.
        len_trans: transformer depth, one int or one per bin.
        bin_sizes: output sizes of the second pyramid's adaptive pools.
        mlp_ratio, attn_ratio: transformer widths (hidden = dim * mlp_ratio,
            value = key_dim * attn_ratio).
        merge_type: 'add' or 'concat'.
        align_corners: of the bilinear resize back to the first pyramid's grid.

    forward(feats): list of float32 [N, C_i, H_i, W_i] -> [N, output_channel, h, w] at half
    the size of the last feature.
    """

    def __init__(self, stride: int, input_channel: int, mid_channel: int = 256,
                 output_channel: int = 512, len_trans: Union[int, Sequence[int]] = 1,
                 bin_sizes: Sequence[int] = (2, 4, 6), mlp_ratio: float = 2,
                 attn_ratio: float = 2, merge_type: str = 'concat', align_corners: bool = False):
        super().__init__()
        if merge_type not in ('add', 'concat'):
            raise ValueError(f"dpp_merge_type must be 'add' or 'concat', got {merge_type!r}")
        depths = [len_trans] * len(bin_sizes) if isinstance(len_trans, int) else list(len_trans)
        if len(depths) != len(bin_sizes):
            raise ValueError(f'dpp_len_trans must be an int or one depth per bin size '
                             f'({len(bin_sizes)}), got {len_trans!r}')
        self.stride = stride
        self.merge_type = merge_type
        self.align_corners = align_corners
        self.conv_mid = ConvBNAct(input_channel, mid_channel, 1, act=None, bias=True)
        self.pp2 = nn.LayerList()
        for size, depth in zip(bin_sizes, depths):
            # a 1x1 bin holds one position: attention is pointless there, a conv suffices
            trans = (ConvBNAct(mid_channel, mid_channel, 1, bias=True) if size == 1 else
                     BasicLayer(depth, mid_channel, _KEY_DIM, _NUM_HEADS, mlp_ratio, attn_ratio))
            self.pp2.append(nn.Sequential(nn.AdaptiveAvgPool2D(size), trans))
        merged = mid_channel * (1 + len(bin_sizes)) if merge_type == 'concat' else mid_channel
        self.conv_out = ConvBNAct(merged, output_channel, 1, bias=True)

    def forward(self, feats: List[paddle.Tensor]) -> paddle.Tensor:
        base = self.conv_mid(pyramid_pool_aggregate(feats, self.stride))
        size = paddle.shape(base)[2:]
        pooled = [_resize_bins(stage(base), size, self.align_corners) for stage in self.pp2]
        # the reduced map first, then the bins from the largest to the smallest (that order
        # is the channel order of 'concat' and the summation order of 'add')
        parts = [base] + pooled[::-1]
        return self.conv_out(merge_features(parts, self.merge_type))


class MLFF(nn.Layer):
    """Multi-level feature fusion with spatial attention.

    Each input i goes through a 1x1 ConvBN (``pwconvs``), a bilinear resize to the target
    size and a depthwise 3x3 ConvBNReLU (``dwconvs``). The per-pixel channel mean and max of
    every branch ([mean_0, max_0, mean_1, max_1, ...]) feed ``conv_atten`` (3x3 ConvBNReLU,
    3x3 ConvBN), whose sigmoid gives one weight map per branch. The weighted branches are
    concatenated (``'concat'``) or summed (``'add'``, equal mid widths only) and fused by a
    3x3 ConvBNReLU.

    forward(inputs, size): list of float32 [N, in_channels[i], h_i, w_i] and the target
    (H, W) -> [N, out_channel, H, W].
    """

    def __init__(self, in_channels: Sequence[int], mid_channels: Sequence[int],
                 out_channel: int, merge_type: str = 'concat'):
        super().__init__()
        if len(in_channels) != len(mid_channels):
            raise ValueError(f'MLFF: mid_channels {list(mid_channels)} must have one entry per '
                             f'input channel count {list(in_channels)}')
        if merge_type not in ('add', 'concat'):
            raise ValueError(f"mlff_merge_type must be 'add' or 'concat', got {merge_type!r}")
        if merge_type == 'add' and len(set(mid_channels)) != 1:
            raise ValueError(f"MLFF with merge_type 'add' needs equal mid_channels, "
                             f'got {list(mid_channels)}')
        self.merge_type = merge_type
        self.pwconvs = nn.LayerList(
            [ConvBNAct(c_in, c_mid, 1, act=None) for c_in, c_mid in zip(in_channels, mid_channels)])
        self.dwconvs = nn.LayerList(
            [ConvBNAct(c_mid, c_mid, 3, groups=c_mid) for c_mid in mid_channels])
        n = len(in_channels)
        self.conv_atten = nn.Sequential(ConvBNAct(2 * n, n, 3), ConvBNAct(n, n, 3, act=None))
        merged = sum(mid_channels) if merge_type == 'concat' else mid_channels[0]
        self.conv_out = ConvBNAct(merged, out_channel, 3)

    def forward(self, inputs: Sequence[paddle.Tensor], size) -> paddle.Tensor:
        feats = [dw(resize_bilinear(pw(x), size))
                 for x, pw, dw in zip(inputs, self.pwconvs, self.dwconvs)]
        stats = []
        for f in feats:
            stats += [f.mean(axis=1, keepdim=True), f.max(axis=1, keepdim=True)]
        atten = F.sigmoid(self.conv_atten(paddle.concat(stats, axis=1)))
        weighted = [f * atten[:, i:i + 1] for i, f in enumerate(feats)]
        return self.conv_out(merge_features(weighted, self.merge_type))


class MattingHead(nn.Layer):
    """3x3 ConvBNReLU, ``num_convs - 1`` more, a 1x1 conv (no bias) to one channel, sigmoid.

    float32 [N, in_channels, H, W] -> alpha [N, 1, H, W] in (0, 1).
    """

    def __init__(self, in_channels: int, mid_channels: int, num_convs: int = 1):
        super().__init__()
        self.conv = ConvBNAct(in_channels, mid_channels, 3)
        self.mid_conv = nn.LayerList(
            [ConvBNAct(mid_channels, mid_channels, 3) for _ in range(num_convs - 1)])
        self.conv_out = nn.Conv2D(mid_channels, 1, 1, bias_attr=False)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.conv(x)
        for conv in self.mid_conv:
            x = conv(x)
        return F.sigmoid(self.conv_out(x))

"""Swin Transformer v1 (Liu et al., "Swin Transformer: Hierarchical Vision Transformer using
Shifted Windows", ICCV 2021, arXiv:2103.14030) as a four-level feature extractor, in the
dense-prediction form that BiRefNet uses (the authors' detection/segmentation variant).

That form differs from the classification Swin of timm/PaddleClas, and the published
BiRefNet weights depend on each difference:

- the token map is zero-padded bottom/right to a multiple of the window *after* ``norm1``,
  and the padded tokens are not masked in attention;
- every odd block shifts by ``window // 2`` even when the map is smaller than the window
  (the window is never clamped to the map); the shift mask is built on the padded map;
- PatchMerging concatenates x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2];
- LayerNorm eps 1e-5 (torch's default), exact (erf) GELU, attention scale head_dim^-1/2.

Sub-layer names (``patch_embed.proj``, ``layers.<i>.blocks.<j>.attn.qkv``, ``norm<i>``) are
those of the PyTorch state dict, so the published files load with only the torch-layout
conversion (``utils/torch_layout.py``). Each attention block keeps its int64
``relative_position_index`` as a persistent buffer, as the published state dicts do.
"""
from typing import List, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...config import manager

__all__ = ['SwinTransformer', 'SwinV1_T', 'SwinV1_L', 'relative_position_index']

_LN_EPS = 1e-5  # torch's LayerNorm default, which the published weights were trained with


def _layer_norm(channels: int) -> nn.LayerNorm:
    return nn.LayerNorm(channels, epsilon=_LN_EPS)


def pad_bottom_right(x: paddle.Tensor, bottom: int, right: int) -> paddle.Tensor:
    """Zero-pad [B, H, W, C] by ``bottom`` rows and ``right`` columns, as a concat of zeros:
    Paddle Inference cannot run the exported program of a pad here (NHWC fails at run
    time, NCHW's pad3d at load time)."""
    zero = paddle.zeros_like(x[:, :1, :1, :])
    if right:
        x = paddle.concat([x, paddle.tile(zero, [1, x.shape[1], right, 1])], axis=2)
    if bottom:
        x = paddle.concat([x, paddle.tile(zero, [1, bottom, x.shape[2], 1])], axis=1)
    return x


def linear_tokens(layer: nn.Linear, x: paddle.Tensor, tokens: int) -> paddle.Tensor:
    """``layer`` over the last axis of x [B, tokens, C_in] -> [B, tokens, C_out], run on the
    flattened [B·tokens, C_in]: Paddle Inference's matmul_add_act_fuse_pass turns a 3-D
    Linear whose batch is dynamic into an fc of the wrong width (the export then cannot load)."""
    y = layer(x.reshape([-1, x.shape[-1]]))
    return y.reshape([-1, tokens, y.shape[-1]])


def relative_position_index(window: int) -> np.ndarray:
    """Swin's table index of each (query, key) token pair of a ``window`` x ``window``
    window: int64 [window², window²], values in [0, (2·window − 1)²)."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing='ij'))
    coords = coords.reshape(2, -1)
    relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
    return (relative[..., 0] * (2 * window - 1) + relative[..., 1]).astype(np.int64)


def window_partition(x: paddle.Tensor, window: int, h: int, w: int) -> paddle.Tensor:
    """[B, h, w, C] (h, w multiples of ``window``, passed in: after a pad the traced shape
    may not know them) -> [B·nW, window², C], windows row-major per image and images one
    after another (the order the shift mask assumes)."""
    c = x.shape[-1]
    x = x.reshape([-1, h // window, window, w // window, window, c])
    return x.transpose([0, 1, 3, 2, 4, 5]).reshape([-1, window * window, c])


def window_reverse(windows: paddle.Tensor, window: int, h: int, w: int) -> paddle.Tensor:
    """The inverse of ``window_partition``: [B·nW, window², C] -> [B, h, w, C]."""
    c = windows.shape[-1]
    x = windows.reshape([-1, h // window, w // window, window, window, c])
    return x.transpose([0, 1, 3, 2, 4, 5]).reshape([-1, h, w, c])


def shift_mask(hp: int, wp: int, window: int, shift: int) -> paddle.Tensor:
    """The additive attention mask of shifted windows on a padded [hp, wp] map:
    float32 [nW, window², window²], 0 within a region and -inf across regions.

    Regions are the row/column bands [0, hp−window), [hp−window, hp−shift), [hp−shift, hp)
    (the original's slices (0:−W, −W:−W//2, −W//2:)), so they stay right when the map is
    no larger than one window. Computed in numpy from the (static) sizes, so an exported
    program holds it as a constant (Paddle Inference mis-runs the 6-D ops of building it).
    """
    rows = (np.arange(hp) >= hp - window).astype(np.int64) + (np.arange(hp) >= hp - shift)
    cols = (np.arange(wp) >= wp - window).astype(np.int64) + (np.arange(wp) >= wp - shift)
    region = rows[:, None] * 3 + cols[None, :]
    region = region.reshape(hp // window, window, wp // window, window).transpose(0, 2, 1, 3)
    region = region.reshape(-1, window * window)
    same = region[:, None, :] == region[:, :, None]
    return paddle.to_tensor(np.where(same, 0.0, -np.inf).astype(np.float32))


class Mlp(nn.Layer):
    """Linear -> exact GELU -> Linear over the last axis."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        tokens = x.shape[1]
        return linear_tokens(self.fc2, self.act(linear_tokens(self.fc1, x, tokens)), tokens)


class WindowAttention(nn.Layer):
    """Multi-head self-attention inside windows with Swin's relative position bias.

    Input [B·nW, window², C] and an optional mask [nW, window², window²]; output the same
    shape as the input.
    """

    def __init__(self, channels: int, window: int, heads: int):
        super().__init__()
        self.heads = heads
        self.scale = (channels // heads) ** -0.5
        self.relative_position_bias_table = self.create_parameter(
            [(2 * window - 1) ** 2, heads], default_initializer=nn.initializer.TruncatedNormal(std=0.02))
        # persistent, as in the published state dicts (the loader sets it like a weight)
        self.register_buffer('relative_position_index',
                             paddle.to_tensor(relative_position_index(window)))
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def _bias(self) -> paddle.Tensor:
        n = self.relative_position_index.shape[0]
        bias = paddle.gather(self.relative_position_bias_table,
                             self.relative_position_index.reshape([-1]))
        return bias.reshape([n, n, self.heads]).transpose([2, 0, 1])

    def forward(self, x: paddle.Tensor, mask=None) -> paddle.Tensor:
        _, n, c = x.shape
        qkv = linear_tokens(self.qkv, x, n).reshape([-1, n, 3, self.heads, c // self.heads])
        q, k, v = qkv.transpose([2, 0, 3, 1, 4]).unbind(0)
        attn = paddle.matmul(q * self.scale, k, transpose_y=True) + self._bias().unsqueeze(0)
        if mask is not None:
            windows = mask.shape[0]
            attn = attn.reshape([-1, windows, self.heads, n, n]) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.reshape([-1, self.heads, n, n])
        out = paddle.matmul(F.softmax(attn, axis=-1), v)
        return linear_tokens(self.proj, out.transpose([0, 2, 1, 3]).reshape([-1, n, c]), n)


class SwinBlock(nn.Layer):
    """One Swin block: (shifted) window attention and an MLP, each residual, pre-norm.

    ``forward(x [B, H·W, C], h, w, mask)``; ``mask`` is the shift mask (used only when
    ``shift`` > 0). Returns [B, H·W, C].
    """

    def __init__(self, channels: int, heads: int, window: int, shift: int, mlp_ratio: float):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = _layer_norm(channels)
        self.attn = WindowAttention(channels, window, heads)
        self.norm2 = _layer_norm(channels)
        self.mlp = Mlp(channels, int(channels * mlp_ratio))

    def forward(self, x: paddle.Tensor, h: int, w: int, mask: paddle.Tensor) -> paddle.Tensor:
        c, win = x.shape[-1], self.window
        y = self.norm1(x).reshape([-1, h, w, c])
        pad_b, pad_r = (win - h % win) % win, (win - w % win) % win
        # padded after the norm and never masked: the padded tokens are zeros that join
        # the attention, which the published weights were trained with
        y = pad_bottom_right(y, pad_b, pad_r)
        hp, wp = h + pad_b, w + pad_r
        if self.shift:
            y = paddle.roll(y, shifts=(-self.shift, -self.shift), axis=(1, 2))
        y = self.attn(window_partition(y, win, hp, wp), mask if self.shift else None)
        y = window_reverse(y, win, hp, wp)
        if self.shift:
            y = paddle.roll(y, shifts=(self.shift, self.shift), axis=(1, 2))
        x = x + y[:, :h, :w, :].reshape([-1, h * w, c])
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Layer):
    """2x2 token merge: [B, H·W, C] -> [B, ceil(H/2)·ceil(W/2), 2C] (odd sizes zero-padded)."""

    def __init__(self, channels: int):
        super().__init__()
        self.reduction = nn.Linear(4 * channels, 2 * channels, bias_attr=False)
        self.norm = _layer_norm(4 * channels)

    def forward(self, x: paddle.Tensor, h: int, w: int) -> paddle.Tensor:
        c = x.shape[-1]
        x = x.reshape([-1, h, w, c])
        x = pad_bottom_right(x, h % 2, w % 2)
        x = paddle.concat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
                           x[:, 1::2, 1::2]], axis=-1)
        tokens = ((h + 1) // 2) * ((w + 1) // 2)
        return linear_tokens(self.reduction, self.norm(x.reshape([-1, tokens, 4 * c])), tokens)


class SwinStage(nn.Layer):
    """``depth`` blocks (even ones unshifted, odd ones shifted by window // 2), then an
    optional PatchMerging. ``forward(x, h, w)`` -> (stage output [B, h·w, C], the merged
    tokens or None)."""

    def __init__(self, channels: int, depth: int, heads: int, window: int,
                 mlp_ratio: float, downsample: bool):
        super().__init__()
        self.window, self.shift = window, window // 2
        self.blocks = nn.LayerList([
            SwinBlock(channels, heads, window, 0 if i % 2 == 0 else self.shift, mlp_ratio)
            for i in range(depth)])
        self.downsample = PatchMerging(channels) if downsample else None

    def forward(self, x: paddle.Tensor, h: int, w: int):
        win = self.window
        mask = shift_mask(-(-h // win) * win, -(-w // win) * win, win, self.shift)
        for block in self.blocks:
            x = block(x, h, w, mask)
        return x, (self.downsample(x, h, w) if self.downsample is not None else None)


class PatchEmbed(nn.Layer):
    """4x4 stride-4 conv (input zero-padded to a multiple of 4) -> LayerNorm over channels.
    [B, 3, H, W] -> [B, C, ceil(H/4), ceil(W/4)]."""

    def __init__(self, channels: int, patch: int = 4, in_channels: int = 3):
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2D(in_channels, channels, patch, stride=patch)
        self.norm = _layer_norm(channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        h, w = x.shape[-2:]
        p = self.patch
        if h % p or w % p:
            x = F.pad(x, [0, (p - w % p) % p, 0, (p - h % p) % p])
        x = self.proj(x)
        return self.norm(x.transpose([0, 2, 3, 1])).transpose([0, 3, 1, 2])


class SwinTransformer(nn.Layer):
    """Swin v1 returning the four stage outputs, each after its own LayerNorm ``norm<i>``.

    Args:
        embed_dim: channels of stage 1 (96 Swin-T, 192 Swin-L); stage i has embed_dim·2^i.
        depths, num_heads: blocks and attention heads per stage.
        window_size: attention window (7 Swin-T, 12 Swin-L at 384 pretraining).
        mlp_ratio: MLP width / channels.
        pretrained: path or URL of backbone weights (loaded by ``build_model``), or None.

    ``forward(x float32 [B, 3, H, W])`` -> list of 4 float32 NCHW maps at strides 4, 8, 16,
    32 (sizes rounded up), channels ``feat_channels``.
    """

    weights_layout = 'torch'

    def __init__(self, embed_dim: int = 96, depths: Sequence[int] = (2, 2, 6, 2),
                 num_heads: Sequence[int] = (3, 6, 12, 24), window_size: int = 7,
                 mlp_ratio: float = 4.0, pretrained=None):
        super().__init__()
        if len(depths) != 4 or len(num_heads) != 4:
            raise ValueError(f'SwinTransformer needs 4 depths and 4 num_heads, got '
                             f'depths={list(depths)}, num_heads={list(num_heads)}')
        self.pretrained = pretrained
        self.feat_channels = [embed_dim * 2 ** i for i in range(4)]
        self.patch_embed = PatchEmbed(embed_dim)
        self.layers = nn.LayerList([
            SwinStage(self.feat_channels[i], depths[i], num_heads[i], window_size, mlp_ratio,
                      downsample=i < 3) for i in range(4)])
        for i, channels in enumerate(self.feat_channels):
            self.add_sublayer(f'norm{i}', _layer_norm(channels))

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        p = self.patch_embed.patch
        # from the input's size: after the embedding's pad the traced shape may not know it
        h, w = -(-x.shape[-2] // p), -(-x.shape[-1] // p)
        x = self.patch_embed(x)
        x = x.flatten(2).transpose([0, 2, 1])
        outs = []
        for i, stage in enumerate(self.layers):
            out, x = stage(x, h, w)
            out = getattr(self, f'norm{i}')(out)
            outs.append(out.reshape([-1, h, w, self.feat_channels[i]]).transpose([0, 3, 1, 2]))
            h, w = (h + 1) // 2, (w + 1) // 2
        return outs

    def map_published_state(self, state: dict) -> dict:
        """Fill in a missing ``relative_position_index`` (some exports drop buffers) with its
        exact value; every other key is already ours (see the module docstring)."""
        return fill_relative_position_index(state, self, '')


def fill_relative_position_index(state: dict, swin: 'SwinTransformer', prefix: str) -> dict:
    """``state`` with each of ``swin``'s ``relative_position_index`` buffers that the file
    lacks set to its exact value (keys under ``prefix``)."""
    state = dict(state)
    for name, layer in swin.named_sublayers():
        if isinstance(layer, WindowAttention):
            key = f'{prefix}{name}.relative_position_index'
            if key not in state:
                state[key] = layer.relative_position_index.numpy()
    return state


@manager.BACKBONES.add_component
def SwinV1_T(**kwargs) -> SwinTransformer:
    """Swin-T: embed 96, depths [2,2,6,2], heads [3,6,12,24], window 7."""
    return SwinTransformer(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                           window_size=7, **kwargs)


@manager.BACKBONES.add_component
def SwinV1_L(**kwargs) -> SwinTransformer:
    """Swin-L: embed 192, depths [2,2,18,2], heads [6,12,24,48], window 12."""
    return SwinTransformer(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48),
                           window_size=12, **kwargs)

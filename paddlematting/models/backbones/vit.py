"""ViTDet: a plain ViT with windowed and global attention for dense prediction (Li et al.,
"Exploring Plain Vision Transformer Backbones for Object Detection", arXiv:2203.16527), as
Hugging Face transformers' ``VitDetBackbone`` computes it for ViTMatte.

Sub-layer names are Hugging Face's (``embeddings.projection``, ``encoder.layer.<i>.attention
.qkv`` ...), so the published ``model.safetensors`` load unchanged (``weights_layout = 'torch'``:
the Linear weights are transposed on loading, ``utils/torch_layout.py``). ``map_published_state``
also reads the DINO / MAE ViT checkpoints the original repo starts training from (timm names:
``patch_embed.proj``, ``blocks.<i>.attn``), widening a 3-channel patch embedding with zeros.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...config import manager
from .vit_attention import DEFAULT_MAX_SCORE_BYTES, AttentionOptions, RelPosAttention, dims

__all__ = ['ViTDet', 'ViTDetBlock', 'ViTDetEmbeddings', 'ResidualBottleneck', 'ChannelLayerNorm',
           'timm_vit_to_vitdet']

# blocks of ViTMatte's ViTDet-S/B: windowed attention everywhere except every third block,
# which attends globally and is followed by a residual conv bottleneck
WINDOW_BLOCKS = (0, 1, 3, 4, 6, 7, 9, 10)
RESIDUAL_BLOCKS = (2, 5, 8, 11)


@dataclass(frozen=True)
class ViTDetGrid:
    """The token grids a ViTDet is made for.

    Attributes:
        patch_size: pixels per token side.
        pretrain_image_size: the image side of the absolute position table (224 -> 14x14).
        image_size: the image side of the global blocks' relative tables (512 -> 32).
        window_size: the side of a windowed block's window, in tokens.
    """
    patch_size: int = 16
    pretrain_image_size: int = 224
    image_size: int = 512
    window_size: int = 14


class ViTDetEmbeddings(nn.Layer):
    """Patch embedding plus the absolute positions resized to the token grid.

    Parameters: ``position_embeddings`` [1, 1 + n*n, C] (row 0: the pretraining cls slot,
    unused), ``projection`` Conv2D(in_channels, C, patch, stride patch).
    forward(x float32 [N, in_channels, H, W]) -> [N, C, H/patch, W/patch]; the n x n table
    is resized bicubically (half-pixel, a = -0.75) when the grid differs.
    """

    def __init__(self, in_channels: int, dim: int, grid: ViTDetGrid):
        super().__init__()
        self.table_side = grid.pretrain_image_size // grid.patch_size
        self.position_embeddings = self.create_parameter(
            [1, 1 + self.table_side ** 2, dim],
            default_initializer=nn.initializer.TruncatedNormal(std=0.02))
        self.projection = nn.Conv2D(in_channels, dim, grid.patch_size, stride=grid.patch_size)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.projection(x)
        h, w = dims(x)[2:]
        n, dim = self.table_side, x.shape[1]
        table = self.position_embeddings[:, 1:].reshape([1, n, n, dim]).transpose([0, 3, 1, 2])
        # traced: resized always (an equal-size bicubic resize is the identity, exactly)
        if not paddle.in_dynamic_mode() or (h, w) != (n, n):
            table = F.interpolate(table, size=[h, w], mode='bicubic', align_corners=False)
        return x + table


class ChannelLayerNorm(nn.Layer):
    """LayerNorm over the channels of an NCHW map (biased variance), ``weight``/``bias`` [C]."""

    def __init__(self, channels: int, epsilon: float = 1e-6):
        super().__init__()
        self.epsilon = epsilon
        self.weight = self.create_parameter([channels], default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter([channels], is_bias=True)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        mean = x.mean(axis=1, keepdim=True)
        var = ((x - mean) ** 2).mean(axis=1, keepdim=True)
        x = (x - mean) / paddle.sqrt(var + self.epsilon)
        return self.weight.reshape([1, -1, 1, 1]) * x + self.bias.reshape([1, -1, 1, 1])


class ResidualBottleneck(nn.Layer):
    """``x + LN(conv1x1(GELU(LN(conv3x3(GELU(LN(conv1x1(x))))))))``, C -> C/2 -> C/2 -> C,
    bias-free convs, channel LayerNorms. NCHW in and out."""

    def __init__(self, dim: int, epsilon: float = 1e-6):
        super().__init__()
        mid = dim // 2
        self.conv1 = nn.Conv2D(dim, mid, 1, bias_attr=False)
        self.norm1 = ChannelLayerNorm(mid, epsilon)
        self.conv2 = nn.Conv2D(mid, mid, 3, padding=1, bias_attr=False)
        self.norm2 = ChannelLayerNorm(mid, epsilon)
        self.conv3 = nn.Conv2D(mid, dim, 1, bias_attr=False)
        self.norm3 = ChannelLayerNorm(dim, epsilon)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        out = F.gelu(self.norm1(self.conv1(x)))
        out = F.gelu(self.norm2(self.conv2(out)))
        return x + self.norm3(self.conv3(out))


class Mlp(nn.Layer):
    """``fc2(GELU(fc1(x)))``, C -> ratio*C -> C (exact erf GELU)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def window_partition(x: paddle.Tensor, size: int) -> Tuple[paddle.Tensor, tuple]:
    """[B, H, W, C] -> ([B * nH * nW, size, size, C], (nH, nW)), zero-padded at the
    bottom/right to nH, nW windows (the padded tokens are not masked: they are keys and
    values too). Traced for export, where H and W are unknown, a whole window of zeros is
    added when a side is already a multiple: windows are independent and the extra ones are
    cropped away by ``window_merge``, so the values are the same."""
    b, h, w, c = dims(x)
    if paddle.in_dynamic_mode():
        nh, nw = -(-h // size), -(-w // size)
    else:
        nh, nw = h // size + 1, w // size + 1
    # zeros concatenated rather than F.pad: Paddle Inference's oneDNN pad kernels fail on NHWC
    if not paddle.in_dynamic_mode() or nh * size > h:
        x = paddle.concat([x, paddle.zeros([b, nh * size - h, w, c], x.dtype)], axis=1)
    if not paddle.in_dynamic_mode() or nw * size > w:
        x = paddle.concat([x, paddle.zeros([b, nh * size, nw * size - w, c], x.dtype)], axis=2)
    x = x.reshape([b, nh, size, nw, size, c]).transpose([0, 1, 3, 2, 4, 5])
    return x.reshape([-1, size, size, c]), (nh, nw)


def window_merge(windows: paddle.Tensor, grid: tuple, batch, h, w) -> paddle.Tensor:
    """Inverse of ``window_partition``: [B * nH * nW, s, s, C] -> [B, h, w, C] (padding cut)."""
    (nh, nw), size, c = grid, windows.shape[1], windows.shape[3]
    x = windows.reshape([batch, nh, nw, size, size, c]).transpose([0, 1, 3, 2, 4, 5])
    return x.reshape([batch, nh * size, nw * size, c])[:, :h, :w]


class ViTDetBlock(nn.Layer):
    """Pre-LN transformer block on an NCHW token map; windowed when ``window_size`` > 0,
    with a ``ResidualBottleneck`` after it when ``residual``. [N, C, h, w] -> same."""

    def __init__(self, dim: int, num_heads: int, grid_size: int, window_size: int = 0,
                 residual: bool = False, mlp_ratio: float = 4.0, epsilon: float = 1e-6,
                 options: AttentionOptions = AttentionOptions()):
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(dim, epsilon=epsilon)
        self.attention = RelPosAttention(dim, num_heads, window_size or grid_size, options=options)
        self.norm2 = nn.LayerNorm(dim, epsilon=epsilon)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.residual = ResidualBottleneck(dim, epsilon) if residual else None

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = x.transpose([0, 2, 3, 1])
        y = self.norm1(x)
        if self.window_size > 0:
            b, h, w, _ = dims(y)
            windows, grid = window_partition(y, self.window_size)
            y = window_merge(self.attention(windows), grid, b, h, w)
        else:
            y = self.attention(y)
        x = x + y
        x = (x + self.mlp(self.norm2(x))).transpose([0, 3, 1, 2])
        return x if self.residual is None else self.residual(x)


class ViTDetEncoder(nn.Layer):
    """The blocks, as ``layer.<i>``, run in order: [N, C, h, w] -> same."""

    def __init__(self, blocks: List[ViTDetBlock]):
        super().__init__()
        self.layer = nn.LayerList(blocks)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        for block in self.layer:
            x = block(x)
        return x


def timm_vit_to_vitdet(state: Dict[str, np.ndarray], in_channels: int) -> Dict[str, np.ndarray]:
    """A timm-named ViT checkpoint (DINO ViT-S/16, MAE ViT-B/16) under ViTDet's names.

    ``patch_embed.proj`` -> ``embeddings.projection`` (input channels beyond the file's, the
    trimap, zero-initialised as the original repo does), ``pos_embed`` ->
    ``embeddings.position_embeddings``, ``blocks.<i>.attn`` -> ``encoder.layer.<i>.attention``,
    ``blocks.<i>.{norm1,norm2,mlp}`` kept; ``cls_token``, the final ``norm`` and heads dropped.
    Arrays stay in torch's layout. Files already in ViTDet's names pass unchanged.
    """
    out = {}
    for key, value in state.items():
        if key.startswith('blocks.'):
            index, rest = key[len('blocks.'):].split('.', 1)
            out[f'encoder.layer.{index}.' + rest.replace('attn.', 'attention.', 1)] = value
        elif key.startswith('patch_embed.proj.'):
            out['embeddings.projection.' + key.rsplit('.', 1)[1]] = value
        elif key == 'pos_embed':
            out['embeddings.position_embeddings'] = value
        elif key.startswith(('embeddings.', 'encoder.')):
            out[key] = value
    weight = out.get('embeddings.projection.weight')
    if isinstance(weight, np.ndarray) and weight.ndim == 4 and weight.shape[1] < in_channels:
        extra = np.zeros((weight.shape[0], in_channels - weight.shape[1]) + weight.shape[2:],
                         weight.dtype)
        out['embeddings.projection.weight'] = np.concatenate([weight, extra], axis=1)
    return out


@manager.BACKBONES.add_component
class ViTDet(nn.Layer):
    """ViTDet backbone of ViTMatte: image + trimap -> the last block's tokens.

    Args:
        hidden_size: width C (384 ViT-S, 768 ViT-B). num_heads: heads (C / 64).
        depth: blocks. in_channels: 4 (RGB + trimap). mlp_ratio: MLP width / C.
        patch_size, pretrain_image_size, image_size, window_size: see ``ViTDetGrid``.
        window_block_indices, residual_block_indices: which blocks are windowed and which
            carry a residual bottleneck (the others attend globally).
        layer_norm_eps: epsilon of every LayerNorm.
        max_score_bytes: ``AttentionOptions.max_score_bytes`` (query chunking, exact).
        pretrained: a backbone checkpoint (ViTDet or timm names), stored for build_model.

    forward(x float32 [N, in_channels, H, W], H and W multiples of patch_size) -> [N, C,
    H/patch, W/patch]. ``feat_channels`` = [C].
    """

    weights_layout = 'torch'

    def __init__(self, hidden_size: int = 384, num_heads: int = 6, depth: int = 12,
                 in_channels: int = 4, mlp_ratio: float = 4.0, patch_size: int = 16,
                 pretrain_image_size: int = 224, image_size: int = 512, window_size: int = 14,
                 window_block_indices: Sequence[int] = WINDOW_BLOCKS,
                 residual_block_indices: Sequence[int] = RESIDUAL_BLOCKS,
                 layer_norm_eps: float = 1e-6, max_score_bytes: int = DEFAULT_MAX_SCORE_BYTES,
                 pretrained: Optional[str] = None):
        super().__init__()
        grid = ViTDetGrid(patch_size, pretrain_image_size, image_size, window_size)
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.feat_channels = [hidden_size]
        self.pretrained = pretrained
        self.embeddings = ViTDetEmbeddings(in_channels, hidden_size, grid)
        options = AttentionOptions(max_score_bytes)
        self.encoder = ViTDetEncoder([
            ViTDetBlock(hidden_size, num_heads, image_size // patch_size,
                        window_size if i in window_block_indices else 0,
                        i in residual_block_indices, mlp_ratio, layer_norm_eps, options)
            for i in range(depth)])

    @property
    def num_layers(self) -> int:
        """Blocks, for layer-wise learning-rate decay (``layer_id``)."""
        return len(self.encoder.layer)

    def layer_id(self, name: str) -> int:
        """The depth of parameter ``name`` (ours, relative to the backbone) for layer-wise
        lr decay, as the original's ``get_vit_lr_decay_rate``: 0 for the embeddings, i + 1
        for block i, and ``num_layers + 1`` (no decay) for the residual bottlenecks."""
        if name.startswith('embeddings.'):
            return 0
        parts = name.split('.')
        if parts[:2] == ['encoder', 'layer'] and 'residual' not in parts:
            return int(parts[2]) + 1
        return self.num_layers + 1

    def map_published_state(self, state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Torch-named files -> our names (see ``timm_vit_to_vitdet``)."""
        return timm_vit_to_vitdet(state, self.in_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.encoder(self.embeddings(x))

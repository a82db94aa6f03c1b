"""Multi-head self-attention with decomposed relative positions (ViTDet, Li et al. 2022,
arXiv:2203.16527), as Hugging Face's ``VitDetAttention`` computes it, on a token grid.

The score of query (qh, qw) for key (kh, kw) is ``(q * d^-0.5) . k + q . Th[qh - kh + h - 1]
+ q . Tw[qw - kw + w - 1]`` (the relative terms use the unscaled q). The tables ``rel_pos_h`` /
``rel_pos_w`` have ``2S - 1`` rows for the grid side S they were trained on; a grid of another
side gets them resized along the rows by 1-D linear interpolation (half-pixel centres).

A large grid is computed in chunks of query rows: each chunk sees every key, so its softmax
is the plain one (exact), and only one chunk's scores are held at a time. At 4000x3000 (47k
tokens) the full score tensor of one global block would take 53 GB for ViTMatte-S.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

__all__ = ['AttentionOptions', 'RelPosAttention', 'relative_table', 'relative_terms', 'dims']

# the score chunk held at a time by default: 256 MiB of float32 scores
DEFAULT_MAX_SCORE_BYTES = 256 * 2 ** 20


@dataclass(frozen=True)
class AttentionOptions:
    """How the attention is computed (no effect on its value).

    Attributes:
        max_score_bytes: the most bytes of float32 scores held at once; a grid whose full
            score tensor is larger is computed in chunks of query rows (at least one row).
            0 computes every grid in one piece.
    """
    max_score_bytes: int = DEFAULT_MAX_SCORE_BYTES


def dims(x: paddle.Tensor) -> list:
    """``x``'s shape: python ints when running, 0-D int tensors while tracing for export
    (where sizes are unknown until the program runs), so one code path serves both."""
    if paddle.in_dynamic_mode():
        return list(x.shape)
    shape = paddle.shape(x)
    return [shape[i] for i in range(len(x.shape))]


def relative_table(table: paddle.Tensor, size: int) -> paddle.Tensor:
    """The gathered relative-position table of one grid axis.

    Args:
        table: float32 [2S-1, d], a ``rel_pos_h`` / ``rel_pos_w`` parameter.
        size: the grid's length on that axis (queries and keys share it).
    Returns:
        float32 [size, size, d]: entry (i, j) is row ``i - j + size - 1`` of the table,
        resized first to ``2 * size - 1`` rows when it has another length.
    """
    rows = 2 * size - 1
    # traced: resized always (an equal-length linear resize is the identity, exactly)
    if not paddle.in_dynamic_mode() or table.shape[0] != rows:
        # [L, d] -> [1, d, L] (NCW), linear with half-pixel centres as torch's 'linear'
        resized = F.interpolate(table.transpose([1, 0]).unsqueeze(0), size=[rows], mode='linear',
                                align_corners=False, align_mode=0, data_format='NCW')
        table = resized.squeeze(0).transpose([1, 0])
    coords = paddle.arange(size, dtype='int64')
    index = coords.unsqueeze(1) - coords.unsqueeze(0) + (size - 1)
    return paddle.gather(table, index.flatten()).reshape([size, size, table.shape[1]])


def relative_terms(q: paddle.Tensor, table_h: paddle.Tensor,
                   table_w: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
    """The two decomposed relative terms for queries on (part of) a grid.

    Args:
        q: float32 [B, rows, w, d], unscaled queries of ``rows`` grid rows.
        table_h: [rows, h, d], ``relative_table`` of the height axis for those query rows.
        table_w: [w, w, d], ``relative_table`` of the width axis.
    Returns:
        (rel_h [B, rows, w, h], rel_w [B, rows, w, w]): ``q . Th`` over key rows and
        ``q . Tw`` over key columns.
    """
    b, rows, w, d = dims(q)
    by_row = q.transpose([1, 0, 2, 3]).reshape([rows, b * w, d])
    rel_h = paddle.matmul(by_row, table_h, transpose_y=True)            # [rows, B*w, h]
    rel_h = rel_h.reshape([rows, b, w, -1]).transpose([1, 0, 2, 3])
    by_col = q.transpose([2, 0, 1, 3]).reshape([w, b * rows, d])
    rel_w = paddle.matmul(by_col, table_w, transpose_y=True)            # [w, B*rows, w]
    rel_w = rel_w.reshape([w, b, rows, w]).transpose([1, 2, 0, 3])
    return rel_h, rel_w


class RelPosAttention(nn.Layer):
    """Self-attention over an NHWC token grid with decomposed relative positions.

    Parameters (Hugging Face names): ``rel_pos_h``, ``rel_pos_w`` [2S-1, head_dim],
    ``qkv`` Linear(C, 3C) (output features [q | k | v], head-major within each), ``proj``.

    Args:
        dim: channels C. num_heads: heads (C divisible by it).
        grid_size: S, the grid side the relative tables are made for (14 for a window,
            image_size / patch_size for a global block).
        qkv_bias: whether ``qkv`` has a bias.
        options: ``AttentionOptions`` (chunking).

    forward(x float32 [B, h, w, C]) -> [B, h, w, C].
    """

    def __init__(self, dim: int, num_heads: int, grid_size: int, qkv_bias: bool = True,
                 options: AttentionOptions = AttentionOptions()):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'RelPosAttention: dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.options = options
        zeros = nn.initializer.Constant(0.0)  # detectron2's rel_pos_zero_init
        self.rel_pos_h = self.create_parameter([2 * grid_size - 1, self.head_dim],
                                               default_initializer=zeros)
        self.rel_pos_w = self.create_parameter([2 * grid_size - 1, self.head_dim],
                                               default_initializer=zeros)
        self.qkv = nn.Linear(dim, dim * 3, bias_attr=None if qkv_bias else False)
        self.proj = nn.Linear(dim, dim)

    def rows_per_chunk(self, batch: int, h: int, w: int) -> int:
        """Query rows per chunk so that one chunk's scores fit ``max_score_bytes``."""
        limit = self.options.max_score_bytes
        row_bytes = 4 * batch * self.num_heads * w * h * w
        if limit <= 0 or row_bytes * h <= limit:
            return h
        return max(1, limit // row_bytes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        b, h, w, c = dims(x)
        heads, d = self.num_heads, self.head_dim
        qkv = self.qkv(x).reshape([b, h * w, 3, heads, d]).transpose([2, 0, 3, 1, 4])
        q, k, v = qkv.reshape([3, b * heads, h * w, d]).unbind(0)
        table_h = relative_table(self.rel_pos_h, h)
        table_w = relative_table(self.rel_pos_w, w)
        if paddle.in_dynamic_mode():  # chunks of query rows
            step = self.rows_per_chunk(b, h, w)
            parts = [self._attend(q, k, v, table_h, table_w, (start, min(start + step, h)), w)
                     for start in range(0, h, step)]
            out = parts[0] if len(parts) == 1 else paddle.concat(parts, axis=1)
        else:  # traced for export: sizes unknown, one piece
            out = self._attend(q, k, v, table_h, table_w, None, w)
        out = out.reshape([b, heads, h, w, d]).transpose([0, 2, 3, 1, 4]).reshape([b, h, w, c])
        return self.proj(out)

    def _attend(self, q, k, v, table_h, table_w, rows: Optional[Tuple[int, int]], w):
        """Attention of the queries on grid rows [start, stop) = ``rows`` (None: all) over
        every key: q, k, v [B*heads, h*w, d] -> [B*heads, (stop-start)*w, d]."""
        bh, n, d = dims(q)
        h = n // w
        if rows is not None:
            start, stop = rows
            q, table_h, rows = q[:, start * w:stop * w], table_h[start:stop], stop - start
        else:
            rows = h
        scores = paddle.matmul(q * self.scale, k, transpose_y=True)
        rel_h, rel_w = relative_terms(q.reshape([bh, rows, w, d]), table_h, table_w)
        if paddle.in_dynamic_mode() and scores.stop_gradient:
            # inference: add the terms in place, over 3-D views (Paddle's 5-D broadcast add
            # is slower, and each out-of-place add writes another score-sized tensor)
            by_query = scores.reshape([bh * rows * w, h, w])
            by_query.add_(rel_h.reshape([bh * rows * w, h, 1]))
            by_query.add_(rel_w.reshape([bh * rows * w, 1, w]))
            scores = by_query.reshape([bh, rows * w, n])
        else:
            scores = (scores.reshape([bh, rows, w, h, w]) + rel_h.unsqueeze(-1)
                      + rel_w.unsqueeze(-2)).reshape([bh, rows * w, n])
        return paddle.matmul(F.softmax(scores, axis=-1), v)

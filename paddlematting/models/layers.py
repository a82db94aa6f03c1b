"""Small building blocks shared by several backbones and heads.

Sub-layer attribute names (``_conv``, ``_batch_norm``) are part of the state-dict
keys of PaddleSeg's published weights, so they must stay as they are.
"""
from typing import Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

_ACTIVATIONS = {'relu': F.relu, 'relu6': F.relu6}


def activation_fn(name: Optional[str]):
    """Map an activation name ('relu', 'relu6' or None) to a function; None means identity."""
    if name is None:
        return None
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)} or None, got {name!r}")
    return _ACTIVATIONS[name]


class ConvBNAct(nn.Layer):
    """Conv2D -> BatchNorm2D -> optional activation.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: square kernel size.
        stride: convolution stride.
        padding: zero padding; None means ``kernel_size // 2`` ("same" for odd kernels at stride 1).
        groups: convolution groups (``in_channels`` for a depthwise conv).
        act: 'relu', 'relu6' or None (linear output).
        bias: whether the convolution has a bias (a following BN usually makes it redundant).

    Input float32 [N, in_channels, H, W]; output float32 [N, out_channels, H', W'].
    Parameters: ``_conv.weight`` (+ ``_conv.bias``), ``_batch_norm.{weight,bias,_mean,_variance}``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: Optional[int] = None, groups: int = 1, act: Optional[str] = 'relu',
                 bias: bool = False):
        super().__init__()
        if padding is None:
            padding = kernel_size // 2
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=padding, groups=groups,
                               bias_attr=None if bias else False)
        self._batch_norm = nn.BatchNorm2D(out_channels)
        self._act = activation_fn(act)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self._batch_norm(self._conv(x))
        return y if self._act is None else self._act(y)

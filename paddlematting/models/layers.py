"""Small building blocks shared by several backbones and heads.

Sub-layer attribute names (``_conv``, ``_batch_norm``) are part of the state-dict
keys of PaddleSeg's published weights, so they must stay as they are.
"""
from typing import Optional, Sequence, Union

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

_ACTIVATIONS = {'relu': F.relu, 'relu6': F.relu6, 'hardswish': F.hardswish}


def activation_fn(name: Optional[str]):
    """Map an activation name ('relu', 'relu6', 'hardswish' or None) to a function; None means identity."""
    if name is None:
        return None
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)} or None, got {name!r}")
    return _ACTIVATIONS[name]


def resize_bilinear(x: paddle.Tensor,
                    size: Union[Sequence[int], paddle.Tensor, None] = None,
                    scale: Optional[float] = None,
                    align_corners: bool = False) -> paddle.Tensor:
    """Bilinear resize of ``x`` float32 [N,C,h,w] to ``size`` (H, W) or by ``scale``.

    Exactly one of ``size`` and ``scale`` is given. ``size`` may be a tensor's shape slice
    (``t.shape[-2:]`` or ``paddle.shape(t)[2:]``), so it works under ``paddle.jit.to_static``
    with dynamic sizes: nothing here looks at the size's values, and an identity resize is
    not skipped (it is exact). ``align_corners=False`` samples at half-pixel centres.
    Returns float32 [N,C,H,W].
    """
    if (size is None) == (scale is None):
        raise ValueError('resize_bilinear: give exactly one of size and scale, '
                         f'got size={size!r}, scale={scale!r}')
    return F.interpolate(x, size=size, scale_factor=scale, mode='bilinear',
                         align_corners=align_corners)


def _align_corners_taps(n_in: int, n_out: int):
    """The two source indices and weights of each output position of a 1-D bilinear
    resize with ``align_corners=True``, computed in float32 as torch's CPU kernel does
    (scale (n_in − 1)/(n_out − 1), λ1 = src − floor(src), λ0 = 1 − λ1)."""
    scale = np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(0.0)
    src = scale * np.arange(n_out, dtype=np.float32)
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lambda1 = (src - i0.astype(np.float32)).astype(np.float32)
    return i0, i1, (np.float32(1.0) - lambda1).astype(np.float32), lambda1


def _lerp_axis(x: paddle.Tensor, axis: int, n_out: int) -> paddle.Tensor:
    i0, i1, w0, w1 = _align_corners_taps(x.shape[axis], n_out)
    shape = [1, 1, 1, 1]
    shape[axis] = n_out
    a = paddle.index_select(x, paddle.to_tensor(i0), axis=axis)
    b = paddle.index_select(x, paddle.to_tensor(i1), axis=axis)
    return a * paddle.to_tensor(w0.reshape(shape)) + b * paddle.to_tensor(w1.reshape(shape))


def resize_align_corners(x: paddle.Tensor, size: Sequence[int]) -> paddle.Tensor:
    """Bilinear resize of x float32 [N,C,h,w] to ``size`` (H, W) with ``align_corners=True``
    (torch's ``F.interpolate(..., align_corners=True)``). Sizes must be static ints.
    Returns [N,C,H,W].

    Dygraph runs ``F.interpolate``. A traced program (export) gets the same resize built from
    index_select and products (width first, then height, as torch's kernel sums them; within
    3e-7 of F.interpolate), because Paddle Inference 3.2 runs ``interpolate(align_corners=
    True)`` wrongly in exported programs (off by up to 2.5 on unit-scale inputs); it is 5x
    slower than F.interpolate in dygraph, hence not used there.
    """
    h, w = int(size[0]), int(size[1])
    if paddle.in_dynamic_mode():
        return F.interpolate(x, size=[h, w], mode='bilinear', align_corners=True)
    if w != x.shape[-1]:
        x = _lerp_axis(x, 3, w)
    if h != x.shape[-2]:
        x = _lerp_axis(x, 2, h)
    return x


class ConvBNAct(nn.Layer):
    """Conv2D -> BatchNorm2D -> optional activation.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: square kernel size.
        stride: convolution stride.
        padding: zero padding: an int, ``'same'`` (Paddle's same padding, which for stride 2
            on even sizes pads only the bottom/right edge), or None for ``kernel_size // 2``
            (the same as ``'same'`` for odd kernels at stride 1).
        groups: convolution groups (``in_channels`` for a depthwise conv).
        dilation: convolution dilation (give ``padding`` = dilation to keep the size).
        act: 'relu', 'relu6' or None (linear output).
        bias: whether the convolution has a bias (a following BN usually makes it redundant).
        dilation: convolution dilation (the padding is not adjusted for it: pass it).

    Input float32 [N, in_channels, H, W]; output float32 [N, out_channels, H', W'].
    Parameters: ``_conv.weight`` (+ ``_conv.bias``), ``_batch_norm.{weight,bias,_mean,_variance}``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: Union[int, str, None] = None, groups: int = 1,
                 act: Optional[str] = 'relu', bias: bool = False, dilation: int = 1):
        super().__init__()
        if padding is None:
            padding = kernel_size // 2
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=padding, dilation=dilation, groups=groups,
                               bias_attr=None if bias else False)
        self._batch_norm = nn.BatchNorm2D(out_channels)
        self._act = activation_fn(act)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = self._batch_norm(self._conv(x))
        return y if self._act is None else self._act(y)


class Conv1x1(nn.Layer):
    """A 1x1 conv with bias held as ``self.conv``: the published state dicts of RVM (its
    projections) and BiRefNet (its lateral blocks) nest the conv one level, as ``NAME.conv.*``.
    [N, in_channels, H, W] -> [N, out_channels, H, W]."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.conv(x)


def require_trimap(inputs: dict, model_name: str, values: str = '{0,128,255}') -> None:
    """Raise KeyError (naming the model and what the trimap must be) unless ``inputs`` holds
    ``'trimap'``: the trimap-based models take it from the sample dict, beside ``'img'``."""
    if 'trimap' not in inputs:
        raise KeyError(f"{model_name} needs inputs['trimap'] (float32 [N,1,H,W] in {values}) "
                       "besides inputs['img']; the dataset must provide a trimap.")


def check_size_multiple(img: paddle.Tensor, multiple: int, model_name: str,
                        fix: Optional[str] = None) -> None:
    """Raise ValueError unless img [N,C,H,W]'s H and W are multiples of ``multiple``.

    ``fix`` says which transform provides them (default: ResizeToIntMult). Dynamic (-1)
    sizes, as seen while exporting, cannot be checked and pass.
    """
    h, w = img.shape[-2:]
    if any(isinstance(s, int) and s > 0 and s % multiple for s in (h, w)):
        fix = fix or f'resize with the ResizeToIntMult transform (mult_int: {multiple}) first'
        raise ValueError(
            f'{model_name} needs an input height and width that are multiples of {multiple}, '
            f'got {h}x{w}; {fix}')


def init_backbone_weights(root: nn.Layer, conv_std: float = 0.001) -> None:
    """PaddleSeg's backbone initialisation (HRNet, STDC): every conv weight drawn from
    N(0, conv_std), every BatchNorm at scale 1 and shift 0, so that at initialisation each
    residual block is close to its shortcut."""
    for layer in root.sublayers():
        if isinstance(layer, nn.Conv2D):
            nn.initializer.Normal(std=conv_std)(layer.weight)
        elif isinstance(layer, nn.BatchNorm2D):
            nn.initializer.Constant(1.0)(layer.weight)
            nn.initializer.Constant(0.0)(layer.bias)

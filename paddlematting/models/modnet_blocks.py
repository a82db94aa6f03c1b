"""MODNet's building blocks: IBNorm, Conv+IBNorm+ReLU, the SE block and the fixed Gaussian blur.

Attribute names (``layers``, ``bnorm``, ``inorm``, ``conv``, ``op``) are part of the
state-dict keys of PaddleSeg's published MODNet weights.
"""
import numpy as np
import paddle
import paddle.nn as nn
from scipy.ndimage import gaussian_filter


class IBNorm(nn.Layer):
    """Batch norm on the first ``channels // 2`` channels, instance norm on the rest.

    BN keeps statistics shared across images (semantics), IN normalises each image on its
    own (contrast/detail); MODNet concatenates both in that order.
    Input/output float32 [N, channels, H, W].
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bn_channels = channels // 2
        self.bnorm = nn.BatchNorm2D(self.bn_channels)
        self.inorm = nn.InstanceNorm2D(channels - self.bn_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        # one split, not two slices: a slice's backward fills a zero tensor of the whole
        # input and adds into it (twice per IBNorm, 10 % of a CPU training step); the
        # split's is one concat. Values are identical.
        first, rest = paddle.split(x, [self.bn_channels, x.shape[1] - self.bn_channels], axis=1)
        return paddle.concat([self.bnorm(first), self.inorm(rest)], axis=1)


class ConvIBNormReLU(nn.Layer):
    """Conv2D (with bias) -> optional IBNorm -> optional ReLU, stored as ``layers.0/1/2``.

    Input float32 [N, in_channels, H, W]; output float32 [N, out_channels, H', W'].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, with_ibn: bool = True, with_relu: bool = True):
        super().__init__()
        parts = [nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride, padding=padding)]
        if with_ibn:
            parts.append(IBNorm(out_channels))
        if with_relu:
            parts.append(nn.ReLU())
        self.layers = nn.Sequential(*parts)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.layers(x)


class SEBlock(nn.Layer):
    """Squeeze-and-excitation (Hu et al. 2018) without biases: global average pool ->
    1x1 conv (channels/reduction) -> ReLU -> 1x1 conv -> sigmoid, which rescales each channel.

    Input/output float32 [N, channels, H, W].
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        squeezed = channels // reduction
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.conv = nn.Sequential(
            nn.Conv2D(channels, squeezed, 1, bias_attr=False), nn.ReLU(),
            nn.Conv2D(squeezed, channels, 1, bias_attr=False), nn.Sigmoid())

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return x * self.conv(self.pool(x))


def gaussian_kernel(kernel_size: int) -> np.ndarray:
    """float32 [kernel_size, kernel_size] Gaussian kernel summing to ~1.

    sigma follows OpenCV's rule for a given size, 0.3 * ((k - 1) / 2 - 1) + 0.8 (0.8 for k=3);
    the kernel is scipy's ``gaussian_filter`` (reflect border, truncate 4) of a centred delta.
    """
    sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8
    delta = np.zeros((kernel_size, kernel_size))
    delta[kernel_size // 2, kernel_size // 2] = 1.0
    return gaussian_filter(delta, sigma).astype('float32')


class GaussianBlur(nn.Layer):
    """Fixed (non-trainable) per-channel Gaussian blur with reflect padding; keeps H and W.

    Its kernel ``op.1.weight`` [channels, 1, k, k] is in the state dict but never trained.
    Input/output float32 [N, channels, H, W].
    """

    def __init__(self, channels: int = 1, kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'GaussianBlur kernel_size must be odd, got {kernel_size}')
        self.channels = channels
        self.op = nn.Sequential(
            nn.Pad2D(kernel_size // 2, mode='reflect'),
            nn.Conv2D(channels, channels, kernel_size, bias_attr=False, groups=channels))
        weight = self.op[1].weight
        kernel = gaussian_kernel(kernel_size)[None, None]
        weight.set_value(np.tile(kernel, (channels, 1, 1, 1)))
        weight.stop_gradient = True

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f'GaussianBlur expects a [N, {self.channels}, H, W] tensor, '
                             f'got shape {list(x.shape)}')
        return self.op(x)

"""GCA Matting's building blocks: spectral-normalised convolutions and the guided
contextual attention layer (Li & Lu, AAAI 2020, https://arxiv.org/abs/2001.04069).

Attribute names (``guidance_conv``, ``out_conv``) and the spectral-norm entries
(``<conv>.weight_orig``, ``<conv>.weight_u``, ``<conv>.weight_v``) are part of the
state-dict keys of PaddleSeg Matting's ``GCA``.
"""
from typing import Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

__all__ = ['GuidedCxtAtten', 'SNConv2D', 'SNConv2DTranspose', 'sn_conv', 'sn_deconv4x4',
           'init_gca_weights', 'extract_patches', 'subsample_nearest']


class _SpectralNorm:
    """Spectral normalisation of a conv's weight, computed inside ``forward`` (so that it is
    traced by ``paddle.jit.to_static``; paddle.nn.utils.spectral_norm's forward-pre hook is not,
    and an export would freeze a stale weight), with paddle.nn.utils.spectral_norm's layout
    and arithmetic: ``weight_orig`` (trainable), buffers ``weight_u`` [rows], ``weight_v``
    [cols] of the weight viewed as a matrix with dim ``sn_dim`` first; in train mode one power
    iteration per forward overwrites u and v; the weight is ``weight_orig / (u . (W v))`` with
    u, v detached. Eval mode uses the stored vectors unchanged.
    """

    sn_dim = 0
    sn_eps = 1e-12

    def _attach_spectral_norm(self) -> None:
        weight = self._parameters.pop('weight')
        self.add_parameter('weight_orig', weight)
        rows, cols = self._weight_matrix().shape
        with paddle.no_grad():
            u = F.normalize(paddle.normal(0.0, 1.0, shape=[rows]), axis=0, epsilon=self.sn_eps)
            v = F.normalize(paddle.normal(0.0, 1.0, shape=[cols]), axis=0, epsilon=self.sn_eps)
        self.register_buffer('weight_u', u)
        self.register_buffer('weight_v', v)

    def _weight_matrix(self) -> paddle.Tensor:
        weight = self.weight_orig
        if self.sn_dim != 0:
            order = [self.sn_dim] + [d for d in range(weight.ndim) if d != self.sn_dim]
            weight = weight.transpose(order)
        return weight.reshape([weight.shape[0], -1])

    def normalized_weight(self) -> paddle.Tensor:
        """``weight_orig / sigma`` (one power iteration first in train mode)."""
        matrix = self._weight_matrix()
        if self.training:
            with paddle.no_grad():
                v = F.normalize(paddle.matmul(matrix, self.weight_u, transpose_x=True), axis=0,
                                epsilon=self.sn_eps)
                paddle.assign(v, self.weight_v)
                u = F.normalize(paddle.matmul(matrix, self.weight_v), axis=0, epsilon=self.sn_eps)
                paddle.assign(u, self.weight_u)
        sigma = paddle.dot(self.weight_u, paddle.mv(matrix, self.weight_v))
        return self.weight_orig / sigma


class SNConv2D(_SpectralNorm, nn.Conv2D):
    """A bias-free ``nn.Conv2D`` with spectral norm (dim 0); see ``_SpectralNorm``."""

    sn_dim = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, bias_attr=False, **kwargs)
        self._attach_spectral_norm()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.conv2d(x, self.normalized_weight(), stride=self._stride, padding=self._padding,
                        dilation=self._dilation, groups=self._groups, data_format=self._data_format)


class SNConv2DTranspose(_SpectralNorm, nn.Conv2DTranspose):
    """A bias-free ``nn.Conv2DTranspose`` with spectral norm over its output channels (dim 1
    of the [in, out, k, k] weight, paddle's choice for transposed convs)."""

    sn_dim = 1

    def __init__(self, *args, **kwargs):
        super().__init__(*args, bias_attr=False, **kwargs)
        self._attach_spectral_norm()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.conv2d_transpose(x, self.normalized_weight(), stride=self._stride,
                                  padding=self._padding, output_padding=self.output_padding,
                                  dilation=self._dilation, groups=self._groups,
                                  data_format=self._data_format)


def sn_conv(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
            padding: Optional[int] = None) -> SNConv2D:
    """A bias-free spectral-normalised Conv2D; ``padding`` defaults to ``kernel_size // 2``.
    Its state: ``weight_orig``, ``weight_u`` [out_channels], ``weight_v`` [in_channels*k*k]."""
    if padding is None:
        padding = kernel_size // 2
    return SNConv2D(in_channels, out_channels, kernel_size, stride=stride, padding=padding)


def sn_deconv4x4(in_channels: int, out_channels: int) -> SNConv2DTranspose:
    """A bias-free spectral-normalised 4x4 stride-2 padding-1 Conv2DTranspose (exact x2);
    ``weight_u`` has ``out_channels`` entries and ``weight_v`` ``in_channels*16``."""
    return SNConv2DTranspose(in_channels, out_channels, kernel_size=4, stride=2, padding=1)


def init_gca_weights(layer: nn.Layer, residual_block_type: type) -> None:
    """Training-from-scratch initialisation of GCA's encoder or decoder (as PaddleSeg's).

    Xavier-uniform for every Conv2D weight (``weight_orig`` under spectral norm; transposed
    convs keep paddle's default), BN scale 1 / shift 0, and the last BN scale of every
    ``residual_block_type`` block zero, so each block starts as its identity path.
    """
    xavier = nn.initializer.XavierUniform()
    for sub in layer.sublayers():
        if isinstance(sub, nn.Conv2D):
            weight = sub.weight_orig if hasattr(sub, 'weight_orig') else sub.weight
            xavier(weight)
        elif isinstance(sub, nn.BatchNorm2D):
            nn.initializer.Constant(1.0)(sub.weight)
            nn.initializer.Constant(0.0)(sub.bias)
    for sub in layer.sublayers():
        if isinstance(sub, residual_block_type):
            nn.initializer.Constant(0.0)(sub.bn2.weight)


def subsample_nearest(x: paddle.Tensor, factor: int) -> paddle.Tensor:
    """Nearest downsampling of ``x`` [N,C,H,W] by an integer ``factor``: pixel (i*f, j*f)
    for output (i, j), i.e. ``F.interpolate(x, scale_factor=1/f, mode='nearest')`` when f
    divides H and W. A strided slice, because Paddle Inference's oneDNN nearest-interp
    kernel samples other pixels when it downscales.
    """
    return x[:, :, ::factor, ::factor]


def extract_patches(x: paddle.Tensor, kernel_size: int, stride: int) -> paddle.Tensor:
    """Every ``kernel_size`` window of ``x`` [N,C,H,W] at ``stride``, after reflect padding by
    ``(k-s+1)//2`` before and ``(k-s)//2`` after (so there are ceil(H/s)*ceil(W/s) windows).

    Returns [N, C*k*k, L]: column l is window l (row-major over the window grid), flattened
    channel-major like a conv weight [C, k, k].
    """
    before = (kernel_size - stride + 1) // 2
    after = (kernel_size - stride) // 2
    x = F.pad(x, [before, after, before, after], mode='reflect')
    return F.unfold(x, [kernel_size, kernel_size], strides=[stride, stride])


class GuidedCxtAtten(nn.Layer):
    """Guided contextual attention: propagate alpha features from known to unknown regions,
    with affinities taken from image features.

    Image features are reduced by a 1x1 conv and sampled at half resolution; each 3x3 patch of
    them is compared (cosine against the raw patch) with every location. The scores are
    scaled per sample by how much of the mask is set, softmaxed over patches, and used to paste
    the matching 4x4 alpha-feature patches back (a transposed conv, stride 2). A 1x1 conv + BN
    of the result is added to the alpha features.

    Every sample attends only to its own patches (PaddleSeg's layer uses sample 0's patches
    and scales for the whole batch; for batch 1 the two agree).

    Args:
        out_channels: channels of the alpha features (input and output).
        guidance_channels: channels of the image features.
    """

    kernel_size = 3  # image-feature patch size
    rate = 2  # image features and mask are compared at 1/rate of the alpha features' size

    def __init__(self, out_channels: int, guidance_channels: int):
        super().__init__()
        self.out_channels = out_channels
        self.guidance_conv = nn.Conv2D(guidance_channels, guidance_channels // 2, kernel_size=1)
        self.out_conv = nn.Sequential(
            nn.Conv2D(out_channels, out_channels, kernel_size=1, bias_attr=False),
            nn.BatchNorm2D(out_channels))
        xavier = nn.initializer.XavierUniform()
        xavier(self.guidance_conv.weight)
        nn.initializer.Constant(0.0)(self.guidance_conv.bias)
        xavier(self.out_conv[0].weight)
        # a near-zero BN scale: the layer starts close to the identity
        nn.initializer.Constant(1e-3)(self.out_conv[1].weight)
        nn.initializer.Constant(0.0)(self.out_conv[1].bias)

    def forward(self, img_feat: paddle.Tensor, alpha_feat: paddle.Tensor,
                unknown: paddle.Tensor) -> paddle.Tensor:
        """img_feat [N,Cg,H,W], alpha_feat [N,out_channels,H,W], unknown [N,1,H,W] in {0,1}
        -> [N,out_channels,H,W]; H and W even and >= 4."""
        guide = subsample_nearest(self.guidance_conv(img_feat), self.rate)
        unknown = subsample_nearest(unknown, self.rate)
        # per-sample softmax scales from the share of the mask that is set (clipped to 0.1..10)
        unknown_frac = unknown.mean(axis=[2, 3]).unsqueeze(-1)  # [N,1,1]
        known_frac = 1 - unknown_frac
        unknown_scale = paddle.clip(paddle.sqrt(unknown_frac / known_frac), 0.1, 10)
        known_scale = paddle.clip(paddle.sqrt(known_frac / unknown_frac), 0.1, 10)

        # similarity[n, p, q]: normalised patch p against the patch at location q, which is
        # what a conv of the padded features with the normalised patches as kernels computes
        img_cols = extract_patches(guide, self.kernel_size, 1)  # [N, Cg/2*9, L]
        norms = paddle.sqrt((img_cols ** 2).sum(axis=1, keepdim=True))
        normed = img_cols / paddle.clip(norms, min=1e-4)
        similarity = paddle.matmul(normed, img_cols, transpose_x=True)  # [N, L, L]

        # the mean of each patch's mask: > 0 marks an "unknown" patch
        unknown_ps = extract_patches(unknown, self.kernel_size, 1).mean(axis=1, keepdim=True)
        unknown_ps = unknown_ps.transpose([0, 2, 1])  # [N, L, 1], one value per patch p
        is_unknown = (unknown_ps > 0).astype(unknown_ps.dtype)
        scale = unknown_scale * is_unknown + known_scale * (1 - is_unknown)
        num = paddle.shape(guide)[2] * paddle.shape(guide)[3]
        index = paddle.arange(num)
        self_mask = (index.unsqueeze(1) == index.unsqueeze(0)).astype(similarity.dtype)  # [L, L]
        # an unknown patch may not attend to itself
        logits = similarity * scale + self_mask * (unknown_ps * -1e4)
        score = F.softmax(logits, axis=1)

        alpha_cols = extract_patches(alpha_feat, 2 * self.rate, self.rate)  # [N, C*16, L]
        pasted = paddle.matmul(alpha_cols, score)  # [N, C*16, L]: the patch for location q
        shape = paddle.shape(alpha_feat)
        pasted = paddle.reshape(pasted, [0, 0, shape[2] // self.rate, shape[3] // self.rate])
        y = self._overlap_add(pasted) / 4.0
        return self.out_conv(y) + alpha_feat

    def _overlap_add(self, cols: paddle.Tensor) -> paddle.Tensor:
        """[N, C*16, h, w] 4x4 patches per location -> [N, C, 2h, 2w], each patch added at
        stride 2 with padding 1 (col2im), as a grouped transposed conv with one-hot kernels
        so that it traces with dynamic sizes."""
        k = 2 * self.rate
        one_hot = paddle.eye(k * k, dtype=cols.dtype).reshape([k * k, 1, k, k])
        kernel = paddle.tile(one_hot, [self.out_channels, 1, 1, 1])
        return F.conv2d_transpose(cols, kernel, stride=self.rate, padding=1,
                                  groups=self.out_channels)

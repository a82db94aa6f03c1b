"""RVM: Robust Video Matting (Lin et al., "Robust High-Resolution Video Matting with Temporal
Guidance", WACV 2022, arXiv:2108.11515), as PaddleSeg Matting builds it.

A recurrent network: each call handles one frame and updates four ConvGRU states
(``r1..r4``) that the next call starts from. The model keeps them itself
(``self.r1..self.r4``); ``reset()`` forgets them before a new clip (or an unrelated image).

Pipeline for an input frame ``src`` (RGB in [0, 1], [N,3,H,W]):
1. ``src_sm`` = bilinear ``src`` x ``downsample_ratio`` (0.25 in the config);
2. MobileNetV3 (os16) features 16@1/2, 24@1/4, 40@1/8 and 960@1/16 of ``src_sm``;
   LR-ASPP turns the last into 128 channels;
3. recurrent decoder: a ConvGRU on half the channels at 1/16, then three x2 upsampling
   blocks (each cropped to its skip's size, concatenated with the skip feature and the
   average-pooled ``src_sm``, conv, ConvGRU on half the channels) and an output block at
   full ``src_sm`` size -> 16 hidden channels;
4. a 1x1 projection gives the foreground residual (3) and alpha (1); the deep guided
   filter carries both up to the input size;
5. ``fg = clip(residual + src, 0, 1)`` (channel order flipped with ``to_rgb``, as PaddleSeg
   does), ``alpha = clip(alpha, 0, 1)``.

Recurrent state shapes (``downsample_ratio`` r, ``h = floor(H r)``, ``w = floor(W r)``):
r1 16@ceil(h/2), r2 20@ceil(h/4), r3 40@ceil(h/8), r4 64@ceil(h/16) (likewise for w).
A state of spatial size 1x1 broadcasts to the needed size, so zeros of [N, C, 1, 1] are
"no history": the exported program takes exactly that for a first frame.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..config import manager
from .layers import Conv1x1, resize_bilinear

STATE_NAMES = ('r1', 'r2', 'r3', 'r4')
_REFINERS = ('deep_guided_filter', 'fast_guided_filter')
_FAST_GF_EPS = 1e-5


def _static_dims(*dims) -> bool:
    """True when every dim is a known positive int (not a -1/None placeholder of a static graph)."""
    return all(isinstance(d, int) and d > 0 for d in dims)


class ConvGRU(nn.Layer):
    """Convolutional GRU cell on ``channels`` channels (3x3 gates).

    ``forward(x [N,C,H,W], h [N,C,H,W] | [N or 1,C,1,1] | None) -> (h', h')``, where
    ``r, z = sigmoid(conv([x, h]))``, ``c = tanh(conv([x, r h]))``, ``h' = (1 - z) h + z c``.
    None (or a 1x1 state, which broadcasts) starts from zeros.
    """

    def __init__(self, channels: int, kernel_size: int = 3, padding: int = 1):
        super().__init__()
        self.channels = channels
        self.ih = nn.Sequential(nn.Conv2D(2 * channels, 2 * channels, kernel_size, padding=padding),
                                nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2D(2 * channels, channels, kernel_size, padding=padding),
                                nn.Tanh())

    def forward(self, x: paddle.Tensor, h: Optional[paddle.Tensor] = None):
        zeros = paddle.zeros_like(x)
        if h is None:
            h = zeros
        else:
            self._check_state(x, h)
            # exact for a full-size state (adds 0); broadcasts a [N,C,1,1] one
            h = h + zeros
        gates = self.ih(paddle.concat([x, h], axis=1))
        # slices, not paddle.split/chunk (paddle 3.2's split warns about torch's on its first call)
        r, z = gates[:, :self.channels], gates[:, self.channels:]
        c = self.hh(paddle.concat([x, r * h], axis=1))
        h = (1 - z) * h + z * c
        return h, h

    def _check_state(self, x: paddle.Tensor, h: paddle.Tensor) -> None:
        xs, hs = list(x.shape), list(h.shape)
        if len(hs) != 4 or (_static_dims(hs[1]) and hs[1] != self.channels):
            raise ValueError(f'RVM: a recurrent state must be [N, {self.channels}, H, W], got {hs}.')
        if not _static_dims(*xs, *hs):
            return  # symbolic shapes while exporting
        if hs[0] not in (1, xs[0]) or tuple(hs[2:]) not in ((1, 1), tuple(xs[2:])):
            raise ValueError(f'RVM: the recurrent state {hs} does not fit this frame (needs '
                             f'[{xs[0]}, {self.channels}, {xs[2]}, {xs[3]}] or a 1x1 zero state): the '
                             'batch or frame size changed; call model.reset() before a new clip.')


class LRASPP(nn.Layer):
    """Lite R-ASPP: ``ReLU(BN(conv1x1(x))) * sigmoid(conv1x1(global_avg(x)))``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.aspp1 = nn.Sequential(nn.Conv2D(in_channels, out_channels, 1, bias_attr=False),
                                   nn.BatchNorm2D(out_channels), nn.ReLU())
        self.aspp2 = nn.Sequential(nn.AdaptiveAvgPool2D(1),
                                   nn.Conv2D(in_channels, out_channels, 1, bias_attr=False),
                                   nn.Sigmoid())

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.aspp1(x) * self.aspp2(x)


def _halves(x: paddle.Tensor, half: int):
    """Split [N, 2*half, H, W] into its first and second ``half`` channels."""
    return x[:, :half], x[:, half:]


class BottleneckBlock(nn.Layer):
    """At 1/16: a ConvGRU on the second half of the channels; the first half passes through."""

    def __init__(self, channels: int):
        super().__init__()
        self.gru = ConvGRU(channels // 2)

    def forward(self, x: paddle.Tensor, r: Optional[paddle.Tensor]):
        a, b = _halves(x, self.gru.channels)
        b, r = self.gru(b, r)
        return paddle.concat([a, b], axis=1), r


def _upsample_to(x: paddle.Tensor, like: paddle.Tensor) -> paddle.Tensor:
    """Bilinear x2 of ``x`` cropped to ``like``'s H, W: the skip is ceil(H/2) of the finer
    level, so an odd size leaves one extra row/column to drop."""
    x = resize_bilinear(x, scale=2)
    size = paddle.shape(like)
    return x[:, :, :size[2], :size[3]]


class UpsamplingBlock(nn.Layer):
    """x2 up, crop, concat [x, skip feature, pooled image] -> conv3x3-BN-ReLU -> ConvGRU on half."""

    def __init__(self, in_channels: int, skip_channels: int, src_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2D(in_channels + skip_channels + src_channels, out_channels, 3, 1, 1,
                      bias_attr=False),
            nn.BatchNorm2D(out_channels), nn.ReLU())
        self.gru = ConvGRU(out_channels // 2)

    def forward(self, x: paddle.Tensor, f: paddle.Tensor, s: paddle.Tensor,
                r: Optional[paddle.Tensor]):
        x = self.conv(paddle.concat([_upsample_to(x, s), f, s], axis=1))
        a, b = _halves(x, self.gru.channels)
        b, r = self.gru(b, r)
        return paddle.concat([a, b], axis=1), r


class OutputBlock(nn.Layer):
    """x2 up, crop, concat the image -> two conv3x3-BN-ReLU (no recurrence)."""

    def __init__(self, in_channels: int, src_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2D(in_channels + src_channels, out_channels, 3, 1, 1, bias_attr=False),
            nn.BatchNorm2D(out_channels), nn.ReLU(),
            nn.Conv2D(out_channels, out_channels, 3, 1, 1, bias_attr=False),
            nn.BatchNorm2D(out_channels), nn.ReLU())

    def forward(self, x: paddle.Tensor, s: paddle.Tensor) -> paddle.Tensor:
        return self.conv(paddle.concat([_upsample_to(x, s), s], axis=1))


class RecurrentDecoder(nn.Layer):
    """Decoder over features [f1 (1/2), f2 (1/4), f3 (1/8), f4 (1/16)] with four GRU states.

    ``forward(s0, f1, f2, f3, f4, r1, r2, r3, r4) -> (hidden [N, C_out, h, w], r1', r2', r3', r4')``
    where ``s0`` is the downsampled image [N,3,h,w].
    """

    def __init__(self, feature_channels: Sequence[int], decoder_channels: Sequence[int]):
        super().__init__()
        f = list(feature_channels)
        d = list(decoder_channels)
        # 2x2 average pools (a ceil-mode window averages only the pixels it covers)
        self.avgpool = nn.AvgPool2D(2, 2, ceil_mode=True)
        self.decode4 = BottleneckBlock(f[3])
        self.decode3 = UpsamplingBlock(f[3], f[2], 3, d[0])
        self.decode2 = UpsamplingBlock(d[0], f[1], 3, d[1])
        self.decode1 = UpsamplingBlock(d[1], f[0], 3, d[2])
        self.decode0 = OutputBlock(d[2], 3, d[3])

    def forward(self, s0, f1, f2, f3, f4, r1, r2, r3, r4):
        s1 = self.avgpool(s0)
        s2 = self.avgpool(s1)
        s3 = self.avgpool(s2)
        x4, r4 = self.decode4(f4, r4)
        x3, r3 = self.decode3(x4, f3, s3, r3)
        x2, r2 = self.decode2(x3, f2, s2, r2)
        x1, r1 = self.decode1(x2, f1, s1, r1)
        return self.decode0(x1, s0), r1, r2, r3, r4


def _with_gray(x: paddle.Tensor) -> paddle.Tensor:
    """[N,3,H,W] -> [N,4,H,W]: the image and its channel mean."""
    return paddle.concat([x, x.mean(axis=1, keepdim=True)], axis=1)



def _local_statistics(box, x: paddle.Tensor, y: paddle.Tensor):
    """A guided filter's local statistics under the mean filter ``box``: (mean x, mean y,
    cov(x, y), var(x)), each [N, C, h, w]; x and y have the same channel count."""
    mean_x, mean_y = box(x), box(y)
    return mean_x, mean_y, box(x * y) - mean_x * mean_y, box(x * x) - mean_x * mean_x

class DeepGuidedFilterRefiner(nn.Layer):
    """Guided filter whose box filter (a depthwise 3x3 conv, initialised to 1/9) and whose
    A = f(cov, var, hidden) are learned; upsamples the low-resolution fg residual and alpha.

    ``forward(fine_src [N,3,H,W], base_src [N,3,h,w], base_fgr [N,3,h,w], base_pha [N,1,h,w],
    base_hid [N,C,h,w]) -> (fgr [N,3,H,W], pha [N,1,H,W])``.
    """

    def __init__(self, hid_channels: int = 16):
        super().__init__()
        # a trained parameter in the published weights, not a fixed mean filter
        self.box_filter = nn.Conv2D(4, 4, 3, padding=1, groups=4, bias_attr=False,
                                    weight_attr=nn.initializer.Constant(1 / 9))
        self.conv = nn.Sequential(
            nn.Conv2D(4 * 2 + hid_channels, hid_channels, 1, bias_attr=False),
            nn.BatchNorm2D(hid_channels), nn.ReLU(),
            nn.Conv2D(hid_channels, hid_channels, 1, bias_attr=False),
            nn.BatchNorm2D(hid_channels), nn.ReLU(),
            nn.Conv2D(hid_channels, 4, 1))

    def forward(self, fine_src, base_src, base_fgr, base_pha, base_hid):
        fine_x = _with_gray(fine_src)
        base_x = _with_gray(base_src)
        base_y = paddle.concat([base_fgr, base_pha], axis=1)
        mean_x, mean_y, cov_xy, var_x = _local_statistics(self.box_filter, base_x, base_y)
        a = self.conv(paddle.concat([cov_xy, var_x, base_hid], axis=1))
        b = mean_y - a * mean_x
        size = paddle.shape(fine_src)[2:]
        out = resize_bilinear(a, size) * fine_x + resize_bilinear(b, size)
        return out[:, :3], out[:, 3:]


class FastGuidedFilterRefiner(nn.Layer):
    """Classic fast guided filter (radius 1, eps 1e-5, separable mean box filter); no weights.

    Same call as :class:`DeepGuidedFilterRefiner` (``base_hid`` is ignored).
    """

    def __init__(self, radius: int = 1, eps: float = _FAST_GF_EPS):
        super().__init__()
        self.radius = radius
        self.eps = eps

    def _box(self, x: paddle.Tensor) -> paddle.Tensor:
        k = 2 * self.radius + 1
        c = x.shape[1]
        row = paddle.full([c, 1, 1, k], 1 / k, dtype=x.dtype)
        col = paddle.full([c, 1, k, 1], 1 / k, dtype=x.dtype)
        x = F.conv2d(x, row, padding=(0, self.radius), groups=c)
        return F.conv2d(x, col, padding=(self.radius, 0), groups=c)

    def forward(self, fine_src, base_src, base_fgr, base_pha, base_hid=None):
        lr_x = _with_gray(base_src)
        lr_y = paddle.concat([base_fgr, base_pha], axis=1)
        mean_x, mean_y, cov_xy, var_x = _local_statistics(self._box, lr_x, lr_y)
        a = cov_xy / (var_x + self.eps)
        b = mean_y - a * mean_x
        size = paddle.shape(fine_src)[2:]
        out = resize_bilinear(a, size) * _with_gray(fine_src) + resize_bilinear(b, size)
        return out[:, :3], out[:, 3:]


@manager.MODELS.add_component
class RVM(nn.Layer):
    """Robust Video Matting.

    Args:
        backbone: a backbone returning 4 features (strides 2, 4, 8, 16) with ``feat_channels``
            whose last entry is ``lraspp_in_channels`` (MobileNetV3_large_x1_0_os16 with
            ``out_index [0, 2, 5]`` and ``return_last_conv: True``).
        lraspp_in_channels, lraspp_out_channels: LR-ASPP widths (960 -> 128).
        decoder_channels: widths of decode3, decode2, decode1, decode0 (80, 40, 32, 16).
        refiner: 'deep_guided_filter' (learned; the published weights) or 'fast_guided_filter'.
        downsample_ratio: the network runs on the input scaled by this (0.25 in the config);
            the refiner brings its output back to full size. 1 skips both.
        pretrained: path or URL of whole-model weights (loaded strictly by ``builders.build_model``), or None.
        to_rgb: flip the channel order of ``fg`` on output, as PaddleSeg does.

    ``forward({'img': [N,3,H,W] float32 RGB in [0,1]})`` in eval mode returns
    ``{'alpha' [N,1,H,W] in [0,1], 'fg' [N,3,H,W] in [0,1], 'r1'..'r4'}`` and keeps r1..r4 for
    the next call (see the module docstring); ``reset()`` clears them. Training is not supported.
    """

    input_names = ('img',)
    # there is no loss: PaddleSeg ships RVM for inference only
    trainable = False
    untrainable_reason = ('this toolkit has no training loss for RVM (PaddleSeg ships it for '
                          'inference with the published weights only)')
    recurrent = True
    # recurrent state names, in the order the exported program takes and returns them
    state_names = STATE_NAMES
    # what an exported program returns before the new states
    export_output_names = ('alpha', 'fg')

    def __init__(self, backbone: nn.Layer, lraspp_in_channels: int = 960,
                 lraspp_out_channels: int = 128,
                 decoder_channels: Sequence[int] = (80, 40, 32, 16),
                 refiner: str = 'deep_guided_filter', downsample_ratio: float = 1.0,
                 pretrained: Optional[str] = None, to_rgb: bool = True):
        super().__init__()
        feats = list(backbone.feat_channels)
        if len(feats) != 4 or feats[-1] != lraspp_in_channels:
            raise ValueError('RVM needs a backbone with 4 features whose last has lraspp_in_channels='
                             f'{lraspp_in_channels} channels, got feat_channels={feats}')
        if refiner not in _REFINERS:
            raise ValueError(f'RVM refiner must be one of {list(_REFINERS)}, got {refiner!r}')
        if len(decoder_channels) != 4:
            raise ValueError(f'RVM decoder_channels must have 4 entries, got {list(decoder_channels)}')
        if not downsample_ratio > 0:
            raise ValueError(f'RVM downsample_ratio must be > 0, got {downsample_ratio}')
        self.backbone = backbone
        self.aspp = LRASPP(lraspp_in_channels, lraspp_out_channels)
        self.decoder = RecurrentDecoder(feats[:-1] + [lraspp_out_channels], decoder_channels)
        self.project_mat = Conv1x1(decoder_channels[-1], 4)
        self.project_seg = Conv1x1(decoder_channels[-1], 1)
        self.refiner = (DeepGuidedFilterRefiner(decoder_channels[-1]) if refiner == 'deep_guided_filter'
                        else FastGuidedFilterRefiner())
        self.downsample_ratio = float(downsample_ratio)
        self.pretrained = pretrained
        self.to_rgb = to_rgb
        # channels of r1..r4: the GRUs run on half of each decoder level
        self.state_channels: List[int] = [decoder_channels[2] // 2, decoder_channels[1] // 2,
                                          decoder_channels[0] // 2, lraspp_out_channels // 2]
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state (call before each new clip or unrelated image)."""
        self.r1 = self.r2 = self.r3 = self.r4 = None

    @property
    def state(self) -> List[Optional[paddle.Tensor]]:
        """The kept recurrent state [r1, r2, r3, r4] (None entries before the first frame)."""
        return [self.r1, self.r2, self.r3, self.r4]

    def initial_state(self, batch_size: int = 1) -> List[paddle.Tensor]:
        """Zero states [batch_size, C_k, 1, 1] (they broadcast): what an exported program takes
        for a clip's first frame."""
        return [paddle.zeros([batch_size, c, 1, 1], 'float32') for c in self.state_channels]

    def forward(self, data: Dict[str, paddle.Tensor], r1=None, r2=None, r3=None, r4=None,
                downsample_ratio: Optional[float] = None, segmentation_pass: bool = False):
        """One frame; see the class docstring. Passing all of r1..r4 replaces the kept state first.
        ``segmentation_pass`` returns ``{'alpha': segmentation logits [N,1,h,w]}`` (PaddleSeg's option)."""
        if self.training:
            raise RuntimeError('RVM supports inference only (PaddleSeg ships no training for it); '
                               'call model.eval() first.')
        if all(r is not None for r in (r1, r2, r3, r4)):
            self.r1, self.r2, self.r3, self.r4 = r1, r2, r3, r4
        ratio = self.downsample_ratio if downsample_ratio is None else downsample_ratio
        outputs, states = self.step(data['img'], self.state, ratio, segmentation_pass)
        self.r1, self.r2, self.r3, self.r4 = states
        if segmentation_pass:
            return {'alpha': outputs[0]}
        return {'alpha': outputs[0], 'fg': outputs[1], **dict(zip(STATE_NAMES, states))}

    def step(self, src: paddle.Tensor, state: Sequence[Optional[paddle.Tensor]],
             downsample_ratio: Optional[float] = None, segmentation_pass: bool = False
             ) -> Tuple[List[paddle.Tensor], List[paddle.Tensor]]:
        """One frame without touching the kept state (the form export traces).

        Args:
            src: float32 [N,3,H,W] RGB in [0, 1].
            state: [r1, r2, r3, r4]; each None, a full-size state, or a 1x1 (zero) one.
        Returns:
            ``([alpha [N,1,H,W], fg [N,3,H,W]], [r1', r2', r3', r4'])``; with
            ``segmentation_pass``, ``([seg logits [N,1,h,w]], states)``.
        """
        ratio = self.downsample_ratio if downsample_ratio is None else downsample_ratio
        src_sm = resize_bilinear(src, scale=ratio) if ratio != 1 else src
        f1, f2, f3, f4 = self.backbone(src_sm)
        hid, *states = self.decoder(src_sm, f1, f2, f3, self.aspp(f4), *state)
        if segmentation_pass:
            return [self.project_seg(hid)], states
        mat = self.project_mat(hid)
        fgr_residual, pha = mat[:, :3], mat[:, 3:]
        if ratio != 1:
            fgr_residual, pha = self.refiner(src, src_sm, fgr_residual, pha, hid)
        fgr = paddle.clip(fgr_residual + src, 0., 1.)
        pha = paddle.clip(pha, 0., 1.)
        if self.to_rgb:
            fgr = paddle.flip(fgr, axis=[1])
        return [pha, fgr], states


"""ViTMatte: Boosting Image Matting with Pretrained Plain Vision Transformers (Yao et al.,
Information Fusion 2024, arXiv:2305.15272), as Hugging Face transformers'
``VitMatteForImageMatting`` computes it.

A ViTDet backbone (``backbones/vit.py``) on image + trimap gives 1/16 tokens; the "detail
capture" decoder adds a ConvStream of three stride-2 convs on the same 4-channel input (1/2,
1/4, 1/8), and four fusion blocks upsample the tokens x2 and fuse them with the detail
features of that size (detail first), down to full size; a small head gives the alpha.

Sub-layer names are Hugging Face's (``backbone.*``, ``decoder.convstream.convs.<i>``,
``decoder.fusion_blocks.<i>``, ``decoder.matting_head.matting_convs``), so the published
``hustvl/vitmatte-*`` ``model.safetensors`` load unchanged: the model declares
``weights_layout = 'torch'`` and the loader renames BatchNorm statistics and transposes the
Linear weights (``utils/torch_layout.py``).
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..config import manager
from .layers import check_size_multiple, require_trimap
from .losses.vitmatte_criterion import vitmatte_losses

__all__ = ['ViTMatte', 'DetailCaptureDecoder', 'DecoderBands']

# the backbone's patch (16) and the processor's size_divisor (32) both divide a padded side
SIZE_MULTIPLE = 16
# the trimap's scale: 0..255 in the sample dict, 0..1 as the fourth input channel
TRIMAP_SCALE = 1.0 / 255.0


class BasicConv3x3(nn.Layer):
    """``conv`` 3x3 (padding 1, no bias) -> ``batch_norm`` -> ReLU; [N,in,H,W] ->
    [N,out,ceil(H/stride),ceil(W/stride)]."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, 3, stride=stride, padding=1,
                              bias_attr=False)
        self.batch_norm = nn.BatchNorm2D(out_channels, epsilon=1e-5)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.relu(self.batch_norm(self.conv(x)))


class ConvStream(nn.Layer):
    """Three stride-2 ``BasicConv3x3`` on the 4-channel input. forward -> [input, 1/2, 1/4,
    1/8] (the detail features, finest first)."""

    def __init__(self, in_channels: int = 4, channels: Sequence[int] = (48, 96, 192)):
        super().__init__()
        widths = [in_channels] + list(channels)
        self.out_channels = widths
        self.convs = nn.LayerList([BasicConv3x3(widths[i], widths[i + 1])
                                   for i in range(len(channels))])

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        details = [x]
        for conv in self.convs:
            details.append(conv(details[-1]))
        return details


class FusionBlock(nn.Layer):
    """Bilinear x2 (half-pixel) of the coarse features, concatenated after the detail
    features, then ``conv`` (a stride-1 ``BasicConv3x3``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = BasicConv3x3(in_channels, out_channels, stride=1)

    def forward(self, features: paddle.Tensor, detail: paddle.Tensor) -> paddle.Tensor:
        up = F.interpolate(features, scale_factor=2, mode='bilinear', align_corners=False,
                           align_mode=0)
        return self.conv(paddle.concat([detail, up], axis=1))


class MattingHead(nn.Layer):
    """``matting_convs``: conv3x3 (bias) -> BN -> ReLU -> conv1x1 (bias): the alpha logit."""

    def __init__(self, in_channels: int = 32, mid_channels: int = 16):
        super().__init__()
        self.matting_convs = nn.Sequential(
            nn.Conv2D(in_channels, mid_channels, 3, padding=1),
            nn.BatchNorm2D(mid_channels, epsilon=1e-5), nn.ReLU(),
            nn.Conv2D(mid_channels, 1, 1))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.matting_convs(x)


@dataclass(frozen=True)
class DecoderBands:
    """How a large image's decoder runs in bands of rows (eval only; the same values).

    The decoder is local: an output row depends on input rows and tokens within ~46 pixels
    (its convs, upsamplings and stride-2 ConvStream), so each band of ``rows`` output rows is
    decoded from its rows plus ``halo`` above and below, and the halo is cut away. Paddle's
    CPU convolutions unfold their whole input (x9 for a 3x3 kernel): at 4000x3000 the
    full-size fusion block alone would take 29 GB, a band of 256 rows 1.9 GB.

    Attributes:
        rows: output rows per band, a multiple of 32 (0: never in bands).
        halo: rows of context on each side, a multiple of 32, above the decoder's reach.
        min_pixels: images with fewer pixels (H * W) are decoded whole.
    """
    rows: int = 128
    halo: int = 64
    min_pixels: int = 1 << 22

    def applies(self, height: int, width: int) -> bool:
        return self.rows > 0 and height * width >= self.min_pixels and height > self.rows


class DetailCaptureDecoder(nn.Layer):
    """ConvStream + fusion blocks + head: (tokens [N,C,H/16,W/16], input [N,4,H,W]) ->
    alpha [N,1,H,W] in (0, 1); a large image in eval mode in bands (``DecoderBands``)."""

    def __init__(self, hidden_size: int, in_channels: int = 4,
                 convstream_channels: Sequence[int] = (48, 96, 192),
                 fusion_channels: Sequence[int] = (256, 128, 64, 32),
                 bands: DecoderBands = DecoderBands()):
        super().__init__()
        self.bands = bands
        if len(fusion_channels) != len(convstream_channels) + 1:
            raise ValueError(f'ViTMatte: fusion_channels needs one entry more than '
                             f'convstream_channels, got {list(fusion_channels)} and '
                             f'{list(convstream_channels)}')
        self.convstream = ConvStream(in_channels, convstream_channels)
        detail = self.convstream.out_channels[::-1]
        widths = [hidden_size] + list(fusion_channels)
        self.fusion_blocks = nn.LayerList([FusionBlock(widths[i] + detail[i], widths[i + 1])
                                           for i in range(len(fusion_channels))])
        self.matting_head = MattingHead(widths[-1])

    def decode(self, features: paddle.Tensor, x: paddle.Tensor) -> paddle.Tensor:
        """The decoder on the whole of ``x`` (and the tokens of the same rows)."""
        details = self.convstream(x)[::-1]
        for block, detail in zip(self.fusion_blocks, details):
            features = block(features, detail)
        return F.sigmoid(self.matting_head(features))

    def forward(self, features: paddle.Tensor, x: paddle.Tensor) -> paddle.Tensor:
        height, width = x.shape[2], x.shape[3]
        if self.training or not paddle.in_dynamic_mode() or not self.bands.applies(height, width):
            return self.decode(features, x)
        rows, halo, parts = self.bands.rows, self.bands.halo, []
        for start in range(0, height, rows):
            stop = min(start + rows, height)
            # band edges at multiples of 32 (or the padded image's edge, a multiple of 16)
            # keep the stride-2 convs and the tokens on the whole image's grid
            low, high = max(0, start - halo), min(height, stop + halo)
            band = self.decode(features[:, :, low // SIZE_MULTIPLE:high // SIZE_MULTIPLE],
                               x[:, :, low:high])
            parts.append(band[:, :, start - low:stop - low])
        return paddle.concat(parts, axis=2)


@manager.MODELS.add_component
class ViTMatte(nn.Layer):
    """ViTMatte with the ViTDet backbone and the detail capture decoder.

    Args:
        backbone: ``ViTDet`` (4 input channels).
        convstream_channels: the ConvStream's widths (48, 96, 192).
        fusion_channels: the fusion blocks' widths (256, 128, 64, 32).
        band_rows, band_min_pixels: ``DecoderBands.rows`` / ``.min_pixels``: images of at
            least that many pixels are decoded in bands of rows in eval (same values, a
            bounded memory); 0 rows decodes every image whole.
        pretrained: a whole-model checkpoint (HF ``model.safetensors`` or ours), stored for
            ``builders.build_model``.

    Inputs (``forward``): ``img`` float32 [N,3,H,W] normalised as the config's Normalize
    does ((x - 0.5) / 0.5 for Hugging Face's processor) and ``trimap`` float32 [N,1,H,W] in
    0..255 (scaled by 1/255 into the fourth channel); H and W multiples of 16 (the val
    transforms pad to 32 as the processor does). Eval returns the alpha [N,1,H,W] in (0, 1)
    at that padded size (``pipeline.finish_alpha`` crops it); train returns
    ``{'alpha_pred': alpha}``. Each sample's output depends on that sample alone.
    """

    input_names = ('img', 'trimap')
    weights_layout = 'torch'

    def __init__(self, backbone: nn.Layer, convstream_channels: Sequence[int] = (48, 96, 192),
                 fusion_channels: Sequence[int] = (256, 128, 64, 32), band_rows: int = 128,
                 band_min_pixels: int = DecoderBands.min_pixels, pretrained: Optional[str] = None):
        super().__init__()
        if band_rows < 0 or band_rows % 32:
            raise ValueError(f'ViTMatte: band_rows must be 0 or a positive multiple of 32, '
                             f'got {band_rows}')
        self.backbone = backbone
        self.decoder = DetailCaptureDecoder(backbone.feat_channels[-1], backbone.in_channels,
                                            convstream_channels, fusion_channels,
                                            DecoderBands(band_rows, min_pixels=band_min_pixels))
        self.pretrained = pretrained

    def forward(self, inputs: Dict[str, paddle.Tensor]):
        """See the class docstring for the inputs and the train/eval outputs."""
        require_trimap(inputs, 'ViTMatte', '0..255')
        img = inputs['img']
        check_size_multiple(img, SIZE_MULTIPLE, 'ViTMatte', fix='pad with the PadToMultiple '
                            'transform (size_divisor: 32) after Normalize')
        x = paddle.concat([img, inputs['trimap'] * TRIMAP_SCALE], axis=1)
        alpha = self.decoder(self.backbone(x), x)
        return {'alpha_pred': alpha} if self.training else alpha

    def loss(self, logit_dict: Dict[str, paddle.Tensor],
             label_dict: Dict[str, paddle.Tensor]) -> Dict[str, paddle.Tensor]:
        """The original repo's four terms (``losses.vitmatte_criterion``), each weight 1.

        Args:
            logit_dict: train-mode output (``alpha_pred`` [N,1,H,W]).
            label_dict: ``alpha`` [N,1,H,W] in [0,1] and ``trimap`` [N,1,H,W] in 0..255.
        Returns:
            scalar tensors ``unknown_l1_loss``, ``known_l1_loss``, ``loss_pha_laplacian``,
            ``loss_gradient_penalty`` and their sum ``all``.
        """
        return vitmatte_losses(logit_dict['alpha_pred'], label_dict['alpha'],
                               label_dict['trimap'])

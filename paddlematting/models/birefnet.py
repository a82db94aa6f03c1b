"""BiRefNet: dichotomous image segmentation with bilateral reference (Zheng et al.,
"Bilateral Reference for High-Resolution Dichotomous Image Segmentation", CAAI AIR 2024,
arXiv:2401.03407), as ZhengPeng7/BiRefNet (MIT) computes it at commit 25cb9309 in the
settings of its two published general-use checkpoints (BiRefNet: Swin-L, BiRefNet_lite:
Swin-T; ``Config()`` defaults).

Forward (every resize bilinear with ``align_corners=True``):

1. Encoder: the Swin backbone (``bb``) runs on the image and on the image resized to half
   size; each of its four outputs is ``cat([full, resize(half)])`` (channels doubled). The
   deepest map also gets the three shallower maps resized to it (``cxt``), then the squeeze
   block (``squeeze_module.0``, a BasicDecBlk) brings it back to its own width.
2. Decoder, from stride 32 to 4: at each level the image cut into tiles of the level's size
   (``image2patches``) goes through an ``ipt_blk`` and is concatenated after the feature;
   a BasicDecBlk (conv + deformable ASPP) decodes it; at strides 32/16/8 the gradient branch
   (``gdt_convs_K`` -> ``gdt_convs_attn_K`` -> sigmoid) multiplies the feature; the result is
   upsampled and added to the lateral 1x1 conv of the next encoder map.
3. Head: the stride-4 decoding resized to the input, concatenated with ``ipt_blk1(img)``,
   and a 1x1 conv (``conv_out1``) gives the logit; the mask is its sigmoid.

Training adds the multi-scale side outputs (``conv_ms_spvn_K``) and the gradient
predictions (``gdt_convs_pred_K``) whose targets are the Laplacian of the image weighted
by the side outputs; ``losses/birefnet_loss.py`` has the loss.

Weights: ``weights_layout = 'torch'``: the published ``model.safetensors`` and ``.pth``
state dicts load as they are (our sublayer names are the original's; BatchNorm statistics
are renamed and Linear weights transposed by ``utils/torch_layout.py``).
"""
from typing import Dict, List, Optional, Sequence

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..config import manager
from .backbones.swin import fill_relative_position_index
from .birefnet_blocks import (BasicDecBlk, SimpleConvs, conv1x1_head, gdt_convs,
                              image2patches, resize_as)
from .layers import Conv1x1, check_size_multiple
from .losses.birefnet_loss import BiRefNetLossOptions, birefnet_loss, laplacian5

# the image-patch branch's tiles assume grids of exactly 32/16/8/4 at the four levels
_SIZE_MULTIPLE = 32
# the levels that carry the gradient branch (the stride-4 level has none)
_GDT_LEVELS = (4, 3, 2)
_GDT_CHANNELS = 16


class BiRefNetDecoder(nn.Layer):
    """The decoder (see the module docstring). ``channels`` = the encoder widths deepest
    first after the two-scale cat, e.g. [1536, 768, 384, 192] for Swin-T.

    ``forward(img, [x1, x2, x3, x4])`` -> dict: 'logit' [N,1,H,W]; in training also
    'side' [m4, m3, m2] (side logits at strides 32/16/8), 'gdt_pred' [3 x [N,1,h,w]] and
    'gdt_label' [3 x [N,1,H,W]].
    """

    def __init__(self, channels: Sequence[int]):
        super().__init__()
        c0, c1, c2, c3 = channels
        # image tiles: 3·32², 3·16², 3·8², 3·4² and 3 channels in
        ipt_out = {5: c0 // 8, 4: c0 // 8, 3: c1 // 8, 2: c2 // 8, 1: c3 // 8}
        for k, tiles in zip((5, 4, 3, 2, 1), (32, 16, 8, 4, 1)):
            self.add_sublayer(f'ipt_blk{k}', SimpleConvs(3 * tiles * tiles, ipt_out[k]))
        dec_io = {4: (c0, c1), 3: (c1, c2), 2: (c2, c3), 1: (c3, c3 // 2)}
        for k in (4, 3, 2, 1):
            cin, cout = dec_io[k]
            self.add_sublayer(f'decoder_block{k}', BasicDecBlk(cin + ipt_out[k + 1], cout))
        self.conv_out1 = conv1x1_head(c3 // 2 + ipt_out[1])
        for k, c in zip((4, 3, 2), (c1, c2, c3)):
            # the original's BasicLatBlk: one 1x1 conv
            self.add_sublayer(f'lateral_block{k}', Conv1x1(c, c))
        level_channels = dict(zip(_GDT_LEVELS, (c1, c2, c3)))
        for k in _GDT_LEVELS:
            self.add_sublayer(f'conv_ms_spvn_{k}', nn.Conv2D(level_channels[k], 1, 1))
        for k in _GDT_LEVELS:
            self.add_sublayer(f'gdt_convs_{k}', gdt_convs(level_channels[k], _GDT_CHANNELS))
        for k in _GDT_LEVELS:
            self.add_sublayer(f'gdt_convs_pred_{k}', conv1x1_head(_GDT_CHANNELS))
        for k in _GDT_LEVELS:
            self.add_sublayer(f'gdt_convs_attn_{k}', conv1x1_head(_GDT_CHANNELS))

    def _with_tiles(self, p: paddle.Tensor, img: paddle.Tensor, k: int) -> paddle.Tensor:
        """``cat([p, ipt_blk<k>(tiles of img at p's size)])``."""
        tiles = image2patches(img, p.shape[-2], p.shape[-1])
        return paddle.concat([p, getattr(self, f'ipt_blk{k}')(tiles)], axis=1)

    def _gradient_attention(self, p: paddle.Tensor, k: int, out: Dict) -> paddle.Tensor:
        """``p`` times the gradient branch's attention; in training the side logit and the
        gradient prediction of the level are appended to ``out``."""
        trunk = getattr(self, f'gdt_convs_{k}')(p)
        if self.training:
            out['side'].append(getattr(self, f'conv_ms_spvn_{k}')(p))
            out['gdt_pred'].append(getattr(self, f'gdt_convs_pred_{k}')(trunk))
        return p * F.sigmoid(getattr(self, f'gdt_convs_attn_{k}')(trunk))

    def forward(self, img: paddle.Tensor, feats: List[paddle.Tensor]) -> Dict:
        x1, x2, x3, x4 = feats
        out = {'side': [], 'gdt_pred': []}
        p = self.decoder_block4(self._with_tiles(x4, img, 5))
        p = self._gradient_attention(p, 4, out)
        for k, skip in ((3, x3), (2, x2), (1, x1)):
            p = resize_as(p, skip.shape[-2:]) + getattr(self, f'lateral_block{k + 1}')(skip)
            p = getattr(self, f'decoder_block{k}')(self._with_tiles(p, img, k + 1))
            if k in _GDT_LEVELS:
                p = self._gradient_attention(p, k, out)
        # the full-size tiles are the image itself, and a same-size resize is exact
        p = paddle.concat([resize_as(p, img.shape[-2:]), self.ipt_blk1(img)], axis=1)
        out['logit'] = self.conv_out1(p)
        return out


@manager.MODELS.add_component
class BiRefNet(nn.Layer):
    """BiRefNet for any-object background removal.

    Args:
        backbone: a Swin backbone (``SwinV1_T``, ``SwinV1_L``) returning four maps at strides
            4..32 with ``feat_channels``.
        loss: the training loss's weights (``BiRefNetLossOptions`` fields as a dict, e.g.
            ``{preset: general_2024}``); None: the current General task's weights.
        pretrained: path or URL of whole-model weights (loaded strictly by ``build_model``).

    ``forward({'img': float32 [N,3,H,W]})``: ImageNet-normalised RGB, H and W multiples of
    32. Eval returns the mask float32 [N,1,H,W] in (0,1) (the sigmoid of the logit, never
    stretched); train returns the decoder's dict (see ``BiRefNetDecoder``) with 'logits' =
    [m4, m3, m2, logit] for ``loss``.
    """

    weights_layout = 'torch'  # the published files are PyTorch state dicts
    fixed_size = True  # traced at one H, W: the image tiles and Swin windows are laid out from them

    def __init__(self, backbone: nn.Layer, loss: Optional[dict] = None,
                 pretrained: Optional[str] = None):
        super().__init__()
        if len(getattr(backbone, 'feat_channels', ())) != 4:
            raise ValueError('BiRefNet needs a backbone with 4 feature levels (strides 4..32), '
                             f'got feat_channels={getattr(backbone, "feat_channels", None)}')
        self.pretrained = pretrained
        self.loss_options = BiRefNetLossOptions.from_config(loss)
        self.bb = backbone
        channels = [2 * c for c in backbone.feat_channels]  # after the two-scale cat
        self.squeeze_module = nn.Sequential(BasicDecBlk(sum(channels), channels[3]))
        self.decoder = BiRefNetDecoder(channels[::-1])

    def encode(self, img: paddle.Tensor) -> List[paddle.Tensor]:
        """[x1, x2, x3, x4]: the two-scale encoder maps, x4 after the context cat (before
        the squeeze block)."""
        h, w = img.shape[-2:]
        full = self.bb(img)
        half = self.bb(resize_as(img, [h // 2, w // 2]))
        feats = [paddle.concat([f, resize_as(g, f.shape[-2:])], axis=1)
                 for f, g in zip(full, half)]
        size = feats[3].shape[-2:]
        context = [resize_as(f, size) for f in feats[:3]]
        feats[3] = paddle.concat(context + [feats[3]], axis=1)
        return feats

    def decode(self, img: paddle.Tensor) -> Dict:
        """The decoder's dict for ``img`` (see ``BiRefNetDecoder``); in training also the
        gradient labels and 'logits' = side logits + the final logit."""
        check_size_multiple(img, _SIZE_MULTIPLE, 'BiRefNet')
        feats = self.encode(img)
        feats[3] = self.squeeze_module(feats[3])
        out = self.decoder(img, feats)
        if self.training:
            gradient = laplacian5(paddle.mean(img, axis=1, keepdim=True))
            out['gdt_label'] = [gradient * resize_as(m, gradient.shape[-2:])
                                for m in out['side']]
            out['logits'] = out['side'] + [out['logit']]
        return out

    def forward(self, inputs: Dict[str, paddle.Tensor]):
        out = self.decode(inputs['img'])
        return out if self.training else F.sigmoid(out['logit'])

    def loss(self, logit_dict: Dict, label_dict: Dict[str, paddle.Tensor]
             ) -> Dict[str, paddle.Tensor]:
        """The original training loss (``losses/birefnet_loss.py``) against
        ``label_dict['alpha']`` [N,1,H,W] in [0,1] (a mask or a matte)."""
        return birefnet_loss(logit_dict, label_dict['alpha'], self.loss_options)

    def map_published_state(self, state: dict) -> dict:
        """The published keys are ours; a file without the Swin ``relative_position_index``
        buffers gets their exact values."""
        return fill_relative_position_index(state, self.bb, 'bb.')

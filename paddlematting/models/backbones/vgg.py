"""VGG16 encoder for Deep Image Matting.

The classic VGG16 convolution stack without its classifier: five conv blocks
(3x3 convs + ReLU, 2x2 max pool) followed by one extra 3x3 conv that stands in
for the fully-connected ``fc6`` layer.  The first conv takes ``input_channels``
channels so that DIM can feed the trimap as a fourth channel.

State-dict keys match PaddleSeg Matting's VGG16
(``_conv_block_<i>._conv_<j>.weight`` and ``_conv_6.weight``, no biases), so its
published ``.pdparams`` load unchanged.
"""
from typing import List, Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ...config import manager

__all__ = ['VGGConvBlock', 'VGG16']

# convs per block (each a 3x3 conv + ReLU) and the block's output channels
_VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


class VGGConvBlock(nn.Layer):
    """``num_convs`` bias-free 3x3 conv + ReLU layers, then a 2x2 max pool.

    Args:
        in_channels: channels of the block input.
        out_channels: channels of every conv in the block.
        num_convs: how many convs the block stacks (1..4).
    """

    def __init__(self, in_channels: int, out_channels: int, num_convs: int):
        super().__init__()
        if not 1 <= num_convs <= 4:
            raise ValueError(f'VGGConvBlock: num_convs must be 1..4, got {num_convs}.')
        self.num_convs = num_convs
        # attribute names _conv_1.._conv_<n> are the pretrained checkpoints' keys
        for j in range(1, num_convs + 1):
            conv = nn.Conv2D(in_channels if j == 1 else out_channels, out_channels,
                             kernel_size=3, padding=1, bias_attr=False)
            setattr(self, f'_conv_{j}', conv)
        self._pool = nn.MaxPool2D(kernel_size=2, stride=2)

    def forward(self, x: paddle.Tensor):
        """x [N,C,H,W] -> (pooled [N,out,H//2,W//2], features before pooling [N,out,H,W])."""
        for j in range(1, self.num_convs + 1):
            x = F.relu(getattr(self, f'_conv_{j}')(x))
        return self._pool(x), x


@manager.BACKBONES.add_component
class VGG16(nn.Layer):
    """VGG16 encoder returning six feature maps for DIM's skip-connected decoder.

    Args:
        input_channels: channels of the input image (4 for DIM: RGB + trimap).
        pretrained: path or URL of a backbone checkpoint (keys as in this class'
            state dict, e.g. made by ``tools/convert_vgg16_to_dim.py``); loaded
            non-strictly.

    Attributes:
        feat_channels: channels of the six returned features, ``[64, 128, 256, 512, 512, 512]``.
    """

    def __init__(self, input_channels: int = 4, pretrained: Optional[str] = None):
        super().__init__()
        self.pretrained = pretrained
        in_channels = input_channels
        for i, (num_convs, out_channels) in enumerate(_VGG16_BLOCKS, start=1):
            setattr(self, f'_conv_block_{i}', VGGConvBlock(in_channels, out_channels, num_convs))
            in_channels = out_channels
        # replaces fc6; tools/convert_vgg16_to_dim.py initialises it from fc6's centre 3x3 taps
        self._conv_6 = nn.Conv2D(in_channels, 512, kernel_size=3, padding=1, bias_attr=False)
        self.feat_channels = [c for _, c in _VGG16_BLOCKS] + [512]

    def forward(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        """x float32 [N,input_channels,H,W] -> six features.

        Features 0..4 are each block's output before pooling, at strides 1, 2, 4,
        8, 16 (sizes follow floor division by 2, so any H, W >= 32 work); feature
        5 is the ReLU'd ``_conv_6`` output at stride 32.
        """
        feats = []
        for i in range(1, len(_VGG16_BLOCKS) + 1):
            x, skip = getattr(self, f'_conv_block_{i}')(x)
            feats.append(skip)
        feats.append(F.relu(self._conv_6(x)))
        return feats

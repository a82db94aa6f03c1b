"""Benchmark-only PyTorch MODNet-MobileNetV2, the peer our engines are compared against.

The network is the one in ``paddlematting/models/modnet.py`` (+ ``modnet_blocks.py`` and
``backbones/mobilenet_v2.py``), layer for layer: MobileNetV2 (ReLU6, BN, the 1280-channel
last conv) feeding MODNet's low-resolution (SE + two 5x5 Conv-IBNorm-ReLU), high-resolution
and fusion branches, with bilinear half-pixel resizes and IBNorm = BatchNorm on the first
half of the channels, affine InstanceNorm on the rest. Module names mirror the Paddle state
dict, so ``load_paddle_state`` copies a Paddle MODNet's weights in and both compute the same
function; ``export_onnx`` writes what ZHKKKe/MODNet's ``onnx/export_onnx.py`` writes (the
TorchScript exporter, opset 11, dynamic batch/height/width).

Two differences from ZHKKKe's official ``src/models/modnet.py``, both kept on purpose because
the comparison is about engines running the *same* network, and both cost nothing measurable:
its SE block uses ``nn.Linear`` on the pooled vector where ours uses 1x1 convolutions (the
same matrix product), and its InstanceNorm has ``affine=False`` where ours (PaddleSeg's) has a
per-channel scale and bias (one multiply-add per element, which ONNX's InstanceNormalization
includes either way).

torch is an optional, benchmark-only dependency: nothing in ``paddlematting`` or ``tests``
imports this file. Self-check: ``python benchmarks/torch_modnet.py`` (prints the max
difference to Paddle's dygraph on a 512x512 input; it must be < 1e-4).
"""
import os
import sys
from typing import Dict, List, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['MODNetMobileNetV2', 'load_paddle_state', 'from_paddle', 'export_onnx']

# (expansion t, output channels c, blocks n, first stride s) per MobileNetV2 stage
_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
           (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
_FEATURE_STAGES = (0, 1, 2, 4)  # strides 2, 4, 8, 16; conv9 gives stride 32
_LAST_CHANNELS = 1280


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)


def _down(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=1 / factor, mode='bilinear', align_corners=False)


class ConvBNAct(nn.Module):
    """Conv (no bias) -> BN -> optional ReLU6; names ``_conv``/``_batch_norm`` as in Paddle."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
                 relu6: bool = True):
        super().__init__()
        self._conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self._batch_norm = nn.BatchNorm2d(cout)
        self.relu6 = relu6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._batch_norm(self._conv(x))
        return F.relu6(y) if self.relu6 else y


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        hidden = cin * t
        self._expand_conv = ConvBNAct(cin, hidden, 1)
        self._bottleneck_conv = ConvBNAct(hidden, hidden, 3, stride, groups=hidden)
        self._linear_conv = ConvBNAct(hidden, cout, 1, relu6=False)
        self.shortcut = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self._linear_conv(self._bottleneck_conv(self._expand_conv(x)))
        return x + y if self.shortcut else y


class Stage(nn.Module):
    """``_first_block`` then ``<name>_2``, ``<name>_3``... (Paddle's sub-layer names)."""

    def __init__(self, name: str, cin: int, cout: int, n: int, stride: int, t: int):
        super().__init__()
        self._first_block = InvertedResidual(cin, cout, stride, t)
        self.rest = [f'{name}_{j}' for j in range(2, n + 1)]
        for block in self.rest:
            self.add_module(block, InvertedResidual(cout, cout, 1, t))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._first_block(x)
        for block in self.rest:
            x = getattr(self, block)(x)
        return x


class MobileNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = ConvBNAct(3, 32, 3, stride=2)
        cin, channels = 32, []
        self.stage_names = []
        for i, (t, c, n, s) in enumerate(_STAGES):
            name = f'conv{i + 2}'
            self.add_module(name, Stage(name, cin, c, n, s, t))
            self.stage_names.append(name)
            channels.append(c)
            cin = c
        self.conv9 = ConvBNAct(cin, _LAST_CHANNELS, 1)
        self.feat_channels = [channels[i] for i in _FEATURE_STAGES] + [_LAST_CHANNELS]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        feats = []
        x = self.conv1(x)
        for i, name in enumerate(self.stage_names):
            x = getattr(self, name)(x)
            if i in _FEATURE_STAGES:
                feats.append(x)
        feats.append(self.conv9(x))
        return feats


class IBNorm(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.half = channels // 2
        self.bnorm = nn.BatchNorm2d(self.half)
        self.inorm = nn.InstanceNorm2d(channels - self.half, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.bnorm(x[:, :self.half]), self.inorm(x[:, self.half:])], 1)


class ConvIBNormReLU(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0,
                 ibn: bool = True, relu: bool = True):
        super().__init__()
        parts = [nn.Conv2d(cin, cout, k, stride, padding)]
        if ibn:
            parts.append(IBNorm(cout))
        if relu:
            parts.append(nn.ReLU())
        self.layers = nn.Sequential(*parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SEBlock(nn.Module):
    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        squeezed = channels // reduction
        self.conv = nn.Sequential(nn.Conv2d(channels, squeezed, 1, bias=False), nn.ReLU(),
                                  nn.Conv2d(squeezed, channels, 1, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv(F.adaptive_avg_pool2d(x, 1))


class LRBranch(nn.Module):
    def __init__(self, ch: Sequence[int]):
        super().__init__()
        self.se_block = SEBlock(ch[4])
        self.conv_lr16x = ConvIBNormReLU(ch[4], ch[3], 5, padding=2)
        self.conv_lr8x = ConvIBNormReLU(ch[3], ch[2], 5, padding=2)
        # conv_lr (the semantic head) only runs in training; kept so the keys line up
        self.conv_lr = ConvIBNormReLU(ch[2], 1, 3, stride=2, padding=1, ibn=False, relu=False)

    def forward(self, enc32x: torch.Tensor) -> torch.Tensor:
        lr16x = self.conv_lr16x(_up2(self.se_block(enc32x)))
        return self.conv_lr8x(_up2(lr16x))


class HRBranch(nn.Module):
    def __init__(self, hr: int, ch: Sequence[int]):
        super().__init__()
        hr2 = 2 * hr
        self.tohr_enc2x = ConvIBNormReLU(ch[0], hr, 1)
        self.conv_enc2x = ConvIBNormReLU(hr + 3, hr, 3, stride=2, padding=1)
        self.tohr_enc4x = ConvIBNormReLU(ch[1], hr, 1)
        self.conv_enc4x = ConvIBNormReLU(hr2, hr2, 3, padding=1)
        self.conv_hr4x = nn.Sequential(ConvIBNormReLU(hr2 + ch[2] + 3, hr2, 3, padding=1),
                                       ConvIBNormReLU(hr2, hr2, 3, padding=1),
                                       ConvIBNormReLU(hr2, hr, 3, padding=1))
        self.conv_hr2x = nn.Sequential(ConvIBNormReLU(hr2, hr2, 3, padding=1),
                                       ConvIBNormReLU(hr2, hr, 3, padding=1),
                                       ConvIBNormReLU(hr, hr, 3, padding=1),
                                       ConvIBNormReLU(hr, hr, 3, padding=1))
        # the detail head (training only)
        self.conv_hr = nn.Sequential(ConvIBNormReLU(hr + 3, hr, 3, padding=1),
                                     ConvIBNormReLU(hr, 1, 1, ibn=False, relu=False))

    def forward(self, img, enc2x, enc4x, lr8x):
        enc2x = self.tohr_enc2x(enc2x)
        hr4x = self.conv_enc2x(torch.cat([_down(img, 2), enc2x], 1))
        hr4x = self.conv_enc4x(torch.cat([hr4x, self.tohr_enc4x(enc4x)], 1))
        hr4x = self.conv_hr4x(torch.cat([hr4x, _up2(lr8x), _down(img, 4)], 1))
        return self.conv_hr2x(torch.cat([_up2(hr4x), enc2x], 1))


class FusionBranch(nn.Module):
    def __init__(self, hr: int, ch: Sequence[int]):
        super().__init__()
        self.conv_lr4x = ConvIBNormReLU(ch[2], hr, 5, padding=2)
        self.conv_f2x = ConvIBNormReLU(2 * hr, hr, 3, padding=1)
        self.conv_f = nn.Sequential(ConvIBNormReLU(hr + 3, hr // 2, 3, padding=1),
                                    ConvIBNormReLU(hr // 2, 1, 1, ibn=False, relu=False))

    def forward(self, img, lr8x, hr2x):
        lr2x = _up2(self.conv_lr4x(_up2(lr8x)))
        f2x = self.conv_f2x(torch.cat([lr2x, hr2x], 1))
        return torch.sigmoid(self.conv_f(torch.cat([_up2(f2x), img], 1)))


class Head(nn.Module):
    def __init__(self, hr: int, ch: Sequence[int]):
        super().__init__()
        self.lr_branch = LRBranch(ch)
        self.hr_branch = HRBranch(hr, ch)
        self.f_branch = FusionBranch(hr, ch)

    def forward(self, img, feats):
        lr8x = self.lr_branch(feats[4])
        hr2x = self.hr_branch(img, feats[0], feats[1], lr8x)
        return self.f_branch(img, lr8x, hr2x)


class MODNetMobileNetV2(nn.Module):
    """Inference-mode MODNet-MobileNetV2: img float32 [N,3,H,W] (H, W multiples of 32,
    normalised to [-1,1]) -> matte float32 [N,1,H,W] in (0,1)."""

    def __init__(self, hr_channels: int = 32):
        super().__init__()
        self.backbone = MobileNetV2()
        self.head = Head(hr_channels, self.backbone.feat_channels)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.head(img, self.backbone(img))


# Paddle parameter-name suffix -> torch's, for BatchNorm statistics and InstanceNorm's scale
_RENAMES = {'._mean': '.running_mean', '._variance': '.running_var', 'inorm.scale': 'inorm.weight'}
# Paddle keys with no torch counterpart: MODNet's training-only target blur
_PADDLE_ONLY = ('blurer.',)


def _torch_key(paddle_key: str) -> str:
    for old, new in _RENAMES.items():
        if paddle_key.endswith(old):
            return paddle_key[:-len(old)] + new
    return paddle_key


def load_paddle_state(model: nn.Module, paddle_state: Mapping[str, np.ndarray]) -> None:
    """Copy a Paddle MODNet-MobileNetV2 state dict (name -> array) into ``model``.

    Every torch parameter and buffer must be set (``num_batches_tracked`` aside) and every
    Paddle key used (the training blur aside); shapes must agree.
    """
    target = model.state_dict()
    wanted = {k for k in target if not k.endswith('num_batches_tracked')}
    done = set()
    for key, value in paddle_state.items():
        if key.startswith(_PADDLE_ONLY):
            continue
        name = _torch_key(key)
        if name not in target:
            raise KeyError(f'Paddle key {key} has no torch counterpart {name}.')
        array = np.asarray(value, dtype=np.float32)
        if tuple(target[name].shape) != array.shape:
            raise ValueError(f'{key}: Paddle shape {array.shape}, torch {tuple(target[name].shape)}.')
        target[name] = torch.from_numpy(array.copy())
        done.add(name)
    missing = wanted - done
    if missing:
        raise KeyError(f'torch keys not set from the Paddle state dict: {sorted(missing)[:5]}...')
    model.load_state_dict(target)


def from_paddle(paddle_model) -> MODNetMobileNetV2:
    """A torch MODNet-MobileNetV2 (eval mode) with ``paddle_model``'s weights."""
    state: Dict[str, np.ndarray] = {k: v.numpy() for k, v in paddle_model.state_dict().items()}
    model = MODNetMobileNetV2()
    load_paddle_state(model, state)
    return model.eval()


def export_onnx(model: nn.Module, path: str, opset: int = 11, side: int = 512) -> str:
    """The official repository's way: TorchScript exporter, opset 11, dynamic N/H/W."""
    dummy = torch.zeros(1, 3, side, side)
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), path, input_names=['img'], output_names=['alpha'],
                          opset_version=opset, dynamo=False,
                          dynamic_axes={'img': {0: 'batch', 2: 'height', 3: 'width'},
                                        'alpha': {0: 'batch', 2: 'height', 3: 'width'}})
    return path


def _self_check(side: int = 512) -> None:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, repo)
    import paddle
    from paddlematting import Config
    from paddlematting.builders import Built
    paddle.seed(0)
    cfg = Built(Config(os.path.join(repo, 'configs/modnet/modnet_mobilenetv2.yml'),
                       opts=['model.backbone.pretrained=null', 'model.pretrained=null']))
    cfg.model.eval()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, side, side)).astype(np.float32)
    with paddle.no_grad():
        ref = cfg.model({'img': paddle.to_tensor(x)}).numpy()
    with torch.inference_mode():
        out = from_paddle(cfg.model)(torch.from_numpy(x)).numpy()
    diff = float(np.abs(out - ref).max())
    print(f'torch vs paddle dygraph, {side}x{side}: max |diff| = {diff:.2e} '
          f'({"OK" if diff < 1e-4 else "FAIL"}, limit 1e-4)')


if __name__ == '__main__':
    _self_check()

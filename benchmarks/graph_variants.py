"""Would a different exported graph pay off? MODNet-MobileNetV2 as exported today against an
exact rewrite of its Conv-IBNorm-ReLU blocks, under both engines, timed in turns.

Usage: python benchmarks/graph_variants.py [--repeats 14] [--threads 2] [--side 512]

The rewrite ("split IBNorm") turns each ``Conv -> IBNorm -> ReLU`` (IBNorm = BatchNorm on the
first half of the channels, InstanceNorm on the rest, joined by a concat) into
``concat(ReLU(Conv_a(x)), ReLU(InstanceNorm(Conv_b(x))))``: Conv_a computes the first half of
the output channels with the BatchNorm folded into its weights and bias, Conv_b the second
half. The two slices and the BatchNorm op disappear, and the first half's ReLU fuses into its
convolution in both engines; the FLOPs are unchanged. It is exact up to float rounding
(checked against the original dygraph output, limit 1e-4). This script only measures; the
rewrite itself would belong in the export path (see benchmarks/README.md, "Inference
profile").
"""
import argparse
import copy
import os
import sys
import tempfile
from typing import List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_inference import build_model, medians_in_turns  # noqa: E402


def split_ibnorm_block(block):
    """An exact two-convolution replacement of one ConvIBNormReLU that has an IBNorm."""
    import paddle
    import paddle.nn as nn
    import paddle.nn.functional as F

    conv, ibn = block.layers[0], block.layers[1]
    relu = len(block.layers) > 2
    half = ibn.bn_channels
    bn = ibn.bnorm
    scale = bn.weight / paddle.sqrt(bn._variance + bn._epsilon)
    shift = bn.bias - bn._mean * scale

    def make_conv(out_channels, weight, bias):
        layer = nn.Conv2D(conv._in_channels, out_channels, conv._kernel_size, stride=conv._stride,
                          padding=conv._padding, groups=conv._groups)
        layer.weight.set_value(weight)
        layer.bias.set_value(bias)
        return layer

    class SplitConvIBNormReLU(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv_bn = make_conv(half, conv.weight[:half] * scale.reshape([-1, 1, 1, 1]),
                                     conv.bias[:half] * scale + shift)
            self.conv_in = make_conv(conv._out_channels - half, conv.weight[half:], conv.bias[half:])
            self.inorm = ibn.inorm

        def forward(self, x):
            a = self.conv_bn(x)
            b = self.inorm(self.conv_in(x))
            if relu:
                a, b = F.relu(a), F.relu(b)
            return paddle.concat([a, b], axis=1)

    return SplitConvIBNormReLU()


def split_ibnorm(model):
    """A copy of ``model`` with every IBNorm block rewritten (see the module docstring)."""
    from paddlematting.models.modnet_blocks import ConvIBNormReLU, IBNorm
    model = copy.deepcopy(model)
    count = 0
    for parent in [model] + list(model.sublayers()):
        for name, child in list(parent._sub_layers.items()):
            if isinstance(child, ConvIBNormReLU) and any(isinstance(l, IBNorm) for l in child.layers):
                parent._sub_layers[name] = split_ibnorm_block(child)
                count += 1
    model.eval()
    return model, count


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=14)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--side', type=int, default=512)
    args = parser.parse_args(argv)
    os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    import paddle
    from paddlematting.inference import ExportOptions, Predictor, export_model
    from paddlematting.inference.export import config_inference_transforms

    cfg = build_model('modnet_mobilenetv2')
    rewritten, count = split_ibnorm(cfg.model)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, args.side, args.side)).astype(np.float32)
    with paddle.no_grad():
        ref = cfg.model({'img': paddle.to_tensor(x)}).numpy()
        out = rewritten({'img': paddle.to_tensor(x)}).numpy()
    diff = float(np.abs(out - ref).max())
    print(f'split IBNorm: {count} blocks rewritten; dygraph max |diff| to the original = {diff:.1e} '
          f'({"OK" if diff < 1e-4 else "FAIL"}, limit 1e-4)')
    transforms = config_inference_transforms(cfg.config)
    runners = {}
    with tempfile.TemporaryDirectory(prefix='graph_variants_') as work_dir:
        for label, model in (('as exported', cfg.model), ('split IBNorm', rewritten)):
            folder = export_model(model, os.path.join(work_dir, label.replace(' ', '_')),
                                  transforms,
                                  ExportOptions(model_type='MODNet', onnx=True,
                                                choose_engine=False))
            for engine in ('paddle_inference', 'onnxruntime'):
                predictor = Predictor(folder, device='cpu', threads=args.threads, engine=engine)
                d = float(np.abs(predictor(x) - ref).max())
                print(f'{engine}, {label}: max |diff| to dygraph {d:.1e}')
                runners[f'{engine}, {label}'] = lambda p=predictor: p(x)
        load = os.getloadavg()[0]
        medians = medians_in_turns(runners, args.repeats)
    print(f'\nMODNet-MobileNetV2 {args.side}x{args.side}, {args.threads} threads, medians of '
          f'{args.repeats} in turns, load (1 min) {load:.2f} -> {os.getloadavg()[0]:.2f}\n')
    print('| engine | as exported s | split IBNorm s | split / as exported |')
    print('|---|---|---|---|')
    for engine in ('paddle_inference', 'onnxruntime'):
        a, b = medians[f'{engine}, as exported'], medians[f'{engine}, split IBNorm']
        print(f'| {engine} | {a:.3f} | {b:.3f} | {b / a:.2f} |')


if __name__ == '__main__':
    main()

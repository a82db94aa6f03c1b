"""Turn an ImageNet VGG16 checkpoint into DIM's 4-channel VGG16 encoder weights.

DIM feeds the trimap as an extra input channel, and replaces VGG16's ``fc6``
by a 3x3 convolution (``_conv_6``).  This tool:
  * widens the first conv ``_conv_block_1._conv_1.weight`` from [64, 3, 3, 3] to
    [64, C, 3, 3] (C = --input-channels, default 4), the new channels zero, so
    the converted encoder initially ignores the trimap and sees exactly what
    the ImageNet network saw;
  * makes ``_conv_6.weight`` [512, 512, 3, 3] from ``_fc1.weight`` [25088, 4096]
    (paddle Linear layout [in, out]; the 25088 inputs are a flattened 512x7x7
    map): the first 512 of its 4096 outputs, restricted to the centre 3x3 of
    the 7x7 window (the subsampling PaddleSeg Matting's pretrained encoder used);
  * drops the classifier (``_fc1``, ``_fc2``, ``_out``).
Every other entry is copied unchanged.  The result loads into
``paddlematting.models.backbones.vgg.VGG16(input_channels=C, pretrained=...)``.

Usage:
    python tools/convert_vgg16_to_dim.py --input VGG16_pretrained.pdparams \\
        --output VGG16_dim_pretrained.pdparams
"""
import argparse
import os
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import paddle

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, REPO_ROOT)
from paddlematting.utils.weights_io import load_state_dict  # noqa: E402

FIRST_CONV_KEY = '_conv_block_1._conv_1.weight'
FC6_KEY = '_fc1.weight'
CONV6_KEY = '_conv_6.weight'
CLASSIFIER_PREFIXES = ('_fc1.', '_fc2.', '_out.')

# fc6 sees the last pool output as a flattened [512, 7, 7] map
_FC6_IN_SHAPE = (512, 7, 7)
_CONV6_OUT_CHANNELS = 512
_CONV6_TAPS = slice(2, 5)  # centre 3x3 of the 7x7 window


def widen_first_conv(weight: np.ndarray, input_channels: int) -> np.ndarray:
    """[out, c, kh, kw] -> [out, input_channels, kh, kw], the added input channels zero."""
    out_channels, in_channels, kh, kw = weight.shape
    if input_channels < in_channels:
        raise ValueError(f'{FIRST_CONV_KEY} already has {in_channels} input channels, '
                         f'more than the requested {input_channels}.')
    widened = np.zeros((out_channels, input_channels, kh, kw), dtype=weight.dtype)
    widened[:, :in_channels] = weight
    return widened


def fc6_to_conv6(fc6_weight: np.ndarray) -> np.ndarray:
    """fc6 weight float [25088, 4096] ([in, out]) -> conv6 weight [512, 512, 3, 3]."""
    expected_in = int(np.prod(_FC6_IN_SHAPE))
    if fc6_weight.ndim != 2 or fc6_weight.shape[0] != expected_in:
        raise ValueError(f'{FC6_KEY} has shape {list(fc6_weight.shape)}, expected '
                         f'[{expected_in}, out] (a paddle Linear over a 512x7x7 map).')
    kept_outputs = fc6_weight[:, :_CONV6_OUT_CHANNELS]            # [25088, 512]
    as_conv = kept_outputs.T.reshape((-1,) + _FC6_IN_SHAPE)        # [512, 512, 7, 7]
    return np.ascontiguousarray(as_conv[:, :, _CONV6_TAPS, _CONV6_TAPS])


def convert_vgg16_state_dict(state: Dict[str, np.ndarray], input_channels: int = 4
                             ) -> Tuple[Dict[str, np.ndarray], List[str], List[str]]:
    """Convert an ImageNet VGG16 state dict (numpy arrays) for DIM's encoder.

    Returns ``(converted state, keys changed or created, keys dropped)``.
    """
    if FIRST_CONV_KEY not in state:
        raise KeyError(f'the checkpoint has no {FIRST_CONV_KEY!r}; expected a VGG16 state dict '
                       f'with PaddleSeg/PaddleClas key names.')
    converted, changed, dropped = {}, [], []
    for key, value in state.items():
        if key.startswith(CLASSIFIER_PREFIXES):
            dropped.append(key)
        elif key == FIRST_CONV_KEY:
            converted[key] = widen_first_conv(value, input_channels)
            changed.append(key)
        else:
            converted[key] = value
    if FC6_KEY in state:
        converted[CONV6_KEY] = fc6_to_conv6(state[FC6_KEY])
        changed.append(CONV6_KEY)
    return converted, changed, dropped


def _load_numpy_state(path: str) -> Dict[str, np.ndarray]:
    loaded = load_state_dict(path)  # no pickle code runs (see paddlematting.utils.weights_io)
    return {k: np.asarray(v) for k, v in loaded.items()}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--input', required=True, help='ImageNet VGG16 .pdparams')
    parser.add_argument('--output', required=True, help='where to write the converted .pdparams')
    parser.add_argument('--input-channels', type=int, default=4,
                        help='input channels of the converted first conv (default 4: RGB + trimap)')
    args = parser.parse_args(argv)

    state = _load_numpy_state(args.input)
    converted, changed, dropped = convert_vgg16_state_dict(state, args.input_channels)
    for key in changed:
        source = list(state[FC6_KEY if key == CONV6_KEY else key].shape)
        print(f'converted {key}: {source} -> {list(converted[key].shape)}')
    for key in dropped:
        print(f'dropped   {key}: {list(state[key].shape)}')
    if CONV6_KEY not in converted:
        print(f'note: no {FC6_KEY} and no {CONV6_KEY} in the input; _conv_6 keeps its random init')
    paddle.save(converted, args.output)
    print(f'wrote {len(converted)} tensors to {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

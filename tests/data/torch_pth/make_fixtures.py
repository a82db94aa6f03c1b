"""Make the real-torch fixtures in this folder, and check tests/torch_pth.py against torch.

Run from the repository root with a Python that has torch (never needed by the suite):

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchvenv/bin/python tests/data/torch_pth/make_fixtures.py

It writes the *.pth files below with torch.save, expected.npz (every tensor as numpy, keyed
'<file>::<key>'; bfloat16 as its exact float32 values), and then writes files with our writer
(tests/torch_pth.py) and asserts that torch.load(weights_only=True) reads them back exactly.
"""
import collections
import os
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # tests/, for torch_pth
import torch_pth  # noqa: E402


def _module_state():
    """A DataParallel-wrapped Conv-BN-Linear: 'module.' prefixes, _metadata, an int64 buffer."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                              torch.nn.Linear(4, 2))
    net[1].running_mean.uniform_()
    net[1].num_batches_tracked.fill_(7)
    return torch.nn.DataParallel(net).state_dict()


def _dtypes_state():
    torch.manual_seed(1)
    base = torch.randn(2, 3)
    return collections.OrderedDict([
        ('f32', base), ('f16', base.half()), ('bf16', base.bfloat16()), ('f64', base.double()),
        ('i64', torch.arange(-3, 3)), ('i32', torch.arange(4, dtype=torch.int32)),
        ('i8', torch.tensor([-128, 0, 127], dtype=torch.int8)),
        ('u8', torch.tensor([0, 255], dtype=torch.uint8)), ('bool', torch.tensor([True, False])),
        ('u16', torch.tensor([1, 65535], dtype=torch.uint16))])


def _views_state():
    base = torch.arange(24, dtype=torch.float32)
    grid = base.view(4, 6)
    tied = torch.randn(3, 2)
    return {'transposed': grid.t(), 'column': grid[:, 1], 'slice': base[5:11],
            'tied_a': tied, 'tied_b': tied, 'param': torch.nn.Parameter(torch.ones(2, 2)),
            'scalar': torch.tensor(3.5), 'empty': torch.zeros(0, 3)}


def _nested_state():
    return {'state_dict': _module_state(), 'epoch': 3, 'arch': 'conv-bn-linear',
            'lr': 0.01, 'best': [1, 2.5]}


def _as_numpy(tensor):
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        return tensor.float().numpy()
    if tensor.dtype == torch.uint16:
        return tensor.to(torch.int32).numpy().astype(np.uint16)
    return tensor.numpy()


def _flatten(prefix, value, out):
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f'{prefix}.{key}' if prefix else key, item, out)
    elif isinstance(value, torch.Tensor):
        out[prefix] = _as_numpy(value)


def make_fixtures():
    expected = {}
    for name, state in (('module_state', _module_state()), ('dtypes', _dtypes_state()),
                        ('views', _views_state()), ('nested', _nested_state())):
        torch.save(state, os.path.join(HERE, f'{name}.pth'))
        flat = {}
        _flatten('', state, flat)
        expected.update({f'{name}.pth::{key}': value for key, value in flat.items()})
    torch.save(_module_state(), os.path.join(HERE, 'legacy.pth'),
               _use_new_zipfile_serialization=False)
    np.savez(os.path.join(HERE, 'expected.npz'), **expected)
    print(f'wrote {len(expected)} expected tensors')


def check_writer():
    """Our writer's files, read by torch, give back exactly what was written."""
    rng = np.random.default_rng(0)
    storage = np.arange(12, dtype=np.float32)
    values = rng.standard_normal((3, 4)).astype(np.float32)
    state = {'w': values, 'h': values.astype(np.float16), 'i': np.arange(5),
             'b': np.array([True, False]), 'u8': np.array([1, 200], np.uint8),
             'bf': torch_pth.BFloat16(values),
             'view': torch_pth.Tensor(storage, 2, (3, 2), (1, 4)),
             'same_storage': torch_pth.Tensor(storage, 0, (12,), (1,)),
             'param': torch_pth.Parameter(values[:2]),
             'nested': {'deep.w': values[0]}, 'scalar': np.array(2.0, np.float32)}
    with tempfile.TemporaryDirectory() as tmp:
        path = torch_pth.save_pth(os.path.join(tmp, 'ours.pth'), state)
        loaded = torch.load(path, weights_only=True)
    np.testing.assert_array_equal(loaded['w'].numpy(), values)
    np.testing.assert_array_equal(loaded['h'].numpy(), values.astype(np.float16))
    np.testing.assert_array_equal(loaded['i'].numpy(), np.arange(5))
    np.testing.assert_array_equal(loaded['b'].numpy(), [True, False])
    np.testing.assert_array_equal(loaded['u8'].numpy(), [1, 200])
    np.testing.assert_array_equal(loaded['bf'].float().numpy(),
                                  torch.from_numpy(values).bfloat16().float().numpy())
    # element (i, j) of the view is storage[2 + i + 4 j]
    np.testing.assert_array_equal(loaded['view'].numpy(), [[2, 6], [3, 7], [4, 8]])
    assert loaded['view'].untyped_storage().data_ptr() == loaded['same_storage'].untyped_storage().data_ptr()
    assert isinstance(loaded['param'], torch.nn.Parameter)
    np.testing.assert_array_equal(loaded['param'].detach().numpy(), values[:2])
    np.testing.assert_array_equal(loaded['nested']['deep.w'].numpy(), values[0])
    assert loaded['scalar'].shape == () and float(loaded['scalar']) == 2.0
    print('torch.load reads tests/torch_pth.py files exactly')


if __name__ == '__main__':
    make_fixtures()
    check_writer()

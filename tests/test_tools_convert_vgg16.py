"""tools/convert_vgg16_to_dim.py on a small synthetic VGG16-style ImageNet checkpoint."""
import importlib.util
import os

import numpy as np
import paddle
import pytest

from conftest import REPO_ROOT
from paddlematting.builders import load_declared_pretrained
from paddlematting.models.backbones.vgg import VGG16
from paddlematting.utils.pretrained import load_pretrained_weights


def _load_tool():
    path = os.path.join(REPO_ROOT, 'tools', 'convert_vgg16_to_dim.py')
    spec = importlib.util.spec_from_file_location('convert_vgg16_to_dim', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def _imagenet_vgg16_state(rng):
    """Keys and shapes of a PaddleClas/PaddleSeg ImageNet VGG16 (convs bias-free), random values."""
    state = {k: v.numpy() for k, v in VGG16(input_channels=3).state_dict().items()
             if k != '_conv_6.weight'}
    state = {k: rng.standard_normal(v.shape).astype('float32') for k, v in state.items()}
    # the classifier; small dims where the conversion ignores them (fc7, output)
    state['_fc1.weight'] = rng.standard_normal((25088, 600)).astype('float32')
    state['_fc1.bias'] = rng.standard_normal(600).astype('float32')
    state['_fc2.weight'] = rng.standard_normal((600, 7)).astype('float32')
    state['_fc2.bias'] = rng.standard_normal(7).astype('float32')
    state['_out.weight'] = rng.standard_normal((7, 5)).astype('float32')
    state['_out.bias'] = rng.standard_normal(5).astype('float32')
    return state


def test_cli_converts_and_the_result_loads(tmp_path, rng, capsys):
    source = _imagenet_vgg16_state(rng)
    src_path, dst_path = str(tmp_path / 'vgg16.pdparams'), str(tmp_path / 'vgg16_dim.pdparams')
    paddle.save({k: paddle.to_tensor(v) for k, v in source.items()}, src_path)

    assert tool.main(['--input', src_path, '--output', dst_path]) == 0
    printed = capsys.readouterr().out
    assert 'converted _conv_block_1._conv_1.weight: [64, 3, 3, 3] -> [64, 4, 3, 3]' in printed
    assert 'converted _conv_6.weight: [25088, 600] -> [512, 512, 3, 3]' in printed
    for key in ('_fc1.weight', '_fc1.bias', '_fc2.weight', '_fc2.bias', '_out.weight', '_out.bias'):
        assert f'dropped   {key}' in printed

    converted = paddle.load(dst_path, return_numpy=True)
    first = converted['_conv_block_1._conv_1.weight']
    assert first.shape == (64, 4, 3, 3)
    np.testing.assert_array_equal(first[:, :3], source['_conv_block_1._conv_1.weight'])
    assert not first[:, 3].any()
    # conv6[o, c, i, j] is fc6's weight from input (c, i + 2, j + 2) of the 7x7 map to output o
    conv6 = converted['_conv_6.weight']
    fc6 = source['_fc1.weight']
    for o, c, i, j in [(0, 0, 0, 0), (511, 511, 2, 2), (17, 300, 1, 2), (400, 3, 2, 0)]:
        assert conv6[o, c, i, j] == fc6[c * 49 + (i + 2) * 7 + (j + 2), o]
    for key, value in source.items():
        if key.startswith('_conv_block') and key != '_conv_block_1._conv_1.weight':
            np.testing.assert_array_equal(converted[key], value)

    backbone = VGG16(input_channels=4)
    report = load_pretrained_weights(backbone, dst_path, strict=True)
    assert report == {'missing': [], 'unexpected': [], 'mismatched': []}
    np.testing.assert_array_equal(backbone._conv_6.weight.numpy(), conv6)
    # and through the backbone's own `pretrained` argument, as build_model loads it
    via_arg = VGG16(input_channels=4, pretrained=dst_path)
    load_declared_pretrained(paddle.nn.LayerList([via_arg]))
    np.testing.assert_array_equal(via_arg._conv_block_1._conv_1.weight.numpy(), first)


def test_zero_trimap_channel_means_the_trimap_is_ignored(rng):
    """The converted encoder's first conv sees RGB exactly as the ImageNet one did."""
    weight = rng.standard_normal((8, 3, 3, 3)).astype('float32')
    widened = tool.widen_first_conv(weight, 4)
    x = paddle.to_tensor(rng.standard_normal((1, 3, 8, 8)).astype('float32'))
    trimap = paddle.to_tensor(rng.choice([0., 0.5, 1.], (1, 1, 8, 8)).astype('float32'))
    rgb_only = paddle.nn.functional.conv2d(x, paddle.to_tensor(weight), padding=1)
    with_trimap = paddle.nn.functional.conv2d(paddle.concat([x, trimap], axis=1),
                                              paddle.to_tensor(widened), padding=1)
    np.testing.assert_allclose(with_trimap.numpy(), rgb_only.numpy(), rtol=1e-6, atol=1e-6)


def test_refuses_inputs_it_cannot_convert(rng):
    with pytest.raises(KeyError, match='_conv_block_1._conv_1.weight'):
        tool.convert_vgg16_state_dict({'_fc1.weight': np.zeros((25088, 512), 'float32')})
    with pytest.raises(ValueError, match='already has 4 input channels'):
        tool.widen_first_conv(np.zeros((64, 4, 3, 3), 'float32'), 3)
    with pytest.raises(ValueError, match='_fc1.weight'):
        tool.fc6_to_conv6(np.zeros((4096, 25088), 'float32'))


def test_checkpoint_without_classifier_keeps_conv6_absent(rng):
    state = {'_conv_block_1._conv_1.weight': rng.standard_normal((64, 3, 3, 3)).astype('float32')}
    converted, changed, dropped = tool.convert_vgg16_state_dict(state, input_channels=5)
    assert converted['_conv_block_1._conv_1.weight'].shape == (64, 5, 3, 3)
    assert changed == ['_conv_block_1._conv_1.weight'] and dropped == []
    assert '_conv_6.weight' not in converted

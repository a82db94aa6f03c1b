"""Published torch-layout files (.safetensors, torch's .pth) load into layers that declare
``weights_layout = 'torch'``: names mapped, BatchNorm statistics renamed, Linear weights
transposed; our own .pdparams of the same layer load as they are."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest
from safetensors.numpy import save_file

from torch_pth import save_pth
from paddlematting.models.traits import model_traits
from paddlematting.utils.pretrained import WeightsMismatchError, load_pretrained_weights
from paddlematting.utils.torch_layout import linear_weight_keys, torch_state_to_paddle


class _TorchNet(nn.Layer):
    """A square Linear (so a missing transpose cannot hide behind a shape error), a BN and a
    conv, with a name map from a made-up published naming ('enc.*' -> 'body.*')."""
    weights_layout = 'torch'

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2D(3, 4, 3), nn.BatchNorm2D(4))
        self.proj = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2, bias_attr=False)

    def map_published_state(self, state):
        return {key.replace('enc.', 'body.', 1): value for key, value in state.items()
                if not key.startswith('cls_token')}

    def forward(self, x):
        y = self.body(x).mean(axis=[2, 3])
        return self.head(self.proj(y))


def _torch_state(rng):
    """What the PyTorch twin of _TorchNet saves: torch names, [out, in] Linear weights."""
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return {
        'module.enc.0.weight': f(4, 3, 3, 3), 'module.enc.0.bias': f(4),
        'module.enc.1.weight': f(4), 'module.enc.1.bias': f(4),
        'module.enc.1.running_mean': f(4), 'module.enc.1.running_var': np.abs(f(4)) + 0.5,
        'module.enc.1.num_batches_tracked': np.array(7, dtype=np.int64),
        'module.proj.weight': f(4, 4), 'module.proj.bias': f(4),
        'module.head.weight': f(2, 4),
        'module.cls_token': f(1, 4),
    }


def test_linear_weight_keys_are_found_at_any_depth():
    assert linear_weight_keys(_TorchNet()) == {'proj.weight', 'head.weight'}
    assert linear_weight_keys(nn.Linear(2, 3)) == {'weight'}


def test_conversion_maps_names_renames_bn_and_transposes_linears(rng):
    torch_state = _torch_state(rng)
    state = torch_state_to_paddle(dict(torch_state), _TorchNet())
    assert set(state) == set(_TorchNet().state_dict())
    np.testing.assert_array_equal(state['proj.weight'], torch_state['module.proj.weight'].T)
    np.testing.assert_array_equal(state['head.weight'], torch_state['module.head.weight'].T)
    np.testing.assert_array_equal(state['body.1._variance'],
                                  torch_state['module.enc.1.running_var'])
    np.testing.assert_array_equal(state['body.0.weight'], torch_state['module.enc.0.weight'])


@pytest.mark.parametrize('suffix', ['.safetensors', '.pth'])
def test_published_file_in_torch_layout_gives_the_torch_output(tmp_path, rng, suffix):
    torch_state = _torch_state(rng)
    path = str(tmp_path / f'model{suffix}')
    if suffix == '.pth':  # torch.save's zip format, written without torch
        save_pth(path, torch_state)
    else:
        save_file(torch_state, path)
    net = _TorchNet()
    net.eval()
    assert model_traits(net).weights_layout == 'torch'
    load_pretrained_weights(net, path, strict=True)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    # the same network computed by hand with torch's conventions: y = W x + b, W [out, in]
    s = {k.replace('module.', ''): v for k, v in torch_state.items()}
    conv = paddle.nn.functional.conv2d(paddle.to_tensor(x), paddle.to_tensor(s['enc.0.weight']),
                                       paddle.to_tensor(s['enc.0.bias'])).numpy()
    bn = ((conv - s['enc.1.running_mean'][:, None, None])
          / np.sqrt(s['enc.1.running_var'][:, None, None] + 1e-5)
          * s['enc.1.weight'][:, None, None] + s['enc.1.bias'][:, None, None])
    y = bn.mean(axis=(2, 3))
    expected = (y @ s['proj.weight'].T + s['proj.bias']) @ s['head.weight'].T
    np.testing.assert_allclose(net(paddle.to_tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_our_own_pdparams_of_a_torch_layout_layer_load_unchanged(tmp_path, rng):
    net = _TorchNet()
    path = str(tmp_path / 'model.pdparams')
    paddle.save(net.state_dict(), path)
    twin = _TorchNet()
    load_pretrained_weights(twin, path, strict=True)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(twin.state_dict()[key].numpy(), value.numpy())


def test_paddle_layout_layers_do_not_convert_safetensors(tmp_path, rng):
    """A layer without the declaration reads torch names as they are: a strict load fails
    naming them, nothing is transposed behind the user's back."""
    class PlainNet(_TorchNet):
        weights_layout = 'paddle'
    path = str(tmp_path / 'model.safetensors')
    save_file(_torch_state(rng), path)
    with pytest.raises(WeightsMismatchError, match='running_mean'):
        load_pretrained_weights(PlainNet(), path, strict=True)


def test_an_unknown_layout_declaration_is_refused():
    class Odd(nn.Layer):
        weights_layout = 'tensorflow'
    with pytest.raises(ValueError, match="Odd.weights_layout is 'tensorflow'"):
        model_traits(Odd)

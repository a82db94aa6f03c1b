"""Loading pretrained weights: exact loads, key reports, strict failures, URLs and archives."""
import io
import os
import tarfile

import numpy as np
import paddle
import pytest

from local_http_server import closed_port_url, serve_folder
from paddlematting.utils.download import DownloadError
from paddlematting.utils.pretrained import (ShapeMismatch, WeightsMismatchError,
                                            load_pretrained_weights)


class TinyNet(paddle.nn.Layer):
    """A conv + batch norm + linear head: parameters and buffers, several shapes."""

    def __init__(self, width: int = 4, classes: int = 3):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, width, 3)
        self.bn = paddle.nn.BatchNorm2D(width)
        self.head = paddle.nn.Linear(width, classes)

    def forward(self, x):
        return self.head(self.bn(self.conv(x)).mean(axis=[2, 3]))


def _state(layer):
    return {k: v.numpy().copy() for k, v in layer.state_dict().items()}


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('PADDLEMATTING_HOME', str(tmp_path / 'cache'))
    for var in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    # the local test server speaks plain http (test_utils_download_safety checks the refusal)
    monkeypatch.setenv('PADDLEMATTING_ALLOW_HTTP', '1')


@pytest.fixture
def source():
    """A TinyNet whose every tensor (buffers too) holds distinctive values."""
    paddle.seed(1)
    net = TinyNet()
    rng = np.random.default_rng(7)
    for tensor in net.state_dict().values():
        tensor.set_value(rng.uniform(0.5, 2.0, tensor.shape).astype('float32'))
    return net


@pytest.fixture
def checkpoint(tmp_path, source):
    path = tmp_path / 'tiny.pdparams'
    paddle.save(source.state_dict(), str(path))
    return str(path)


def test_strict_load_of_exact_weights_sets_every_value(checkpoint, source):
    paddle.seed(2)
    target = TinyNet()
    before = _state(target)
    report = load_pretrained_weights(target, checkpoint, strict=True)
    assert report == {'missing': [], 'unexpected': [], 'mismatched': []}
    expected = _state(source)
    for key, value in _state(target).items():
        assert not np.array_equal(value, before[key]), key
        np.testing.assert_array_equal(value, expected[key], err_msg=key)


def test_folder_holding_model_pdparams_is_accepted(tmp_path, source):
    folder = tmp_path / 'best_model'
    folder.mkdir()
    paddle.save(source.state_dict(), str(folder / 'model.pdparams'))
    target = TinyNet()
    load_pretrained_weights(target, folder, strict=True)  # a pathlib.Path works as well as a str
    np.testing.assert_array_equal(target.conv.weight.numpy(), source.conv.weight.numpy())


def test_missing_local_file_names_it(tmp_path):
    absent = str(tmp_path / 'nope.pdparams')
    with pytest.raises(FileNotFoundError, match='nope.pdparams'):
        load_pretrained_weights(TinyNet(), absent)
    with pytest.raises(FileNotFoundError, match='model.pdparams'):
        load_pretrained_weights(TinyNet(), str(tmp_path))


@pytest.fixture
def mismatched_checkpoint(tmp_path, source):
    """The source's weights, less 'bn._mean', plus 'extra.w', with the head's weight reshaped."""
    state = _state(source)
    del state['bn._mean']
    state['extra.w'] = np.ones((2, 2), 'float32')
    state['head.weight'] = np.ones((5, 3), 'float32')
    path = tmp_path / 'odd.pdparams'
    paddle.save(state, str(path))
    return str(path)


def test_strict_failure_names_every_key_and_leaves_the_layer_unchanged(mismatched_checkpoint):
    target = TinyNet()
    before = _state(target)
    with pytest.raises(WeightsMismatchError) as info:
        load_pretrained_weights(target, mismatched_checkpoint, strict=True)
    message = str(info.value)
    for name in ('odd.pdparams', 'bn._mean', 'extra.w', 'head.weight', '[4, 3]', '[5, 3]'):
        assert name in message
    for key, value in _state(target).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_non_strict_reports_by_name_and_loads_the_rest(mismatched_checkpoint, source, records):
    target = TinyNet()
    before = _state(target)
    report = load_pretrained_weights(target, mismatched_checkpoint)
    assert report['missing'] == ['bn._mean']
    assert report['unexpected'] == ['extra.w']
    assert report['mismatched'] == [ShapeMismatch('head.weight', (4, 3), (5, 3))]
    after, expected = _state(target), _state(source)
    for key in ('bn._mean', 'head.weight'):
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    for key in ('conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'bn._variance', 'head.bias'):
        np.testing.assert_array_equal(after[key], expected[key], err_msg=key)
    # logged through the 'paddlematting' logger, which the command-line tools configure
    warnings = [m for m in records if 'loaded partially into TinyNet' in m]
    assert len(warnings) == 1 and '1 missing' in warnings[0] and 'extra.w' in warnings[0]


def test_float64_weights_are_cast_to_the_layer_dtype(tmp_path, source):
    state = {k: v.astype('float64') for k, v in _state(source).items()}
    path = tmp_path / 'f64.pdparams'
    paddle.save(state, str(path))
    target = TinyNet()
    load_pretrained_weights(target, str(path), strict=True)
    assert target.conv.weight.dtype == paddle.float32
    np.testing.assert_allclose(target.conv.weight.numpy(), source.conv.weight.numpy())


def test_file_that_is_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / 'list.pdparams'
    paddle.save([np.zeros(3, 'float32')], str(path))
    with pytest.raises(ValueError, match='list.pdparams'):
        load_pretrained_weights(TinyNet(), str(path))


def test_url_is_downloaded_once_then_read_from_the_cache(tmp_path, checkpoint, source):
    www = tmp_path / 'www'
    www.mkdir()
    os.replace(checkpoint, www / 'tiny.pdparams')
    with serve_folder(str(www)) as (base_url, requests):
        for _ in range(2):
            target = TinyNet()
            load_pretrained_weights(target, base_url + '/tiny.pdparams', strict=True)
            np.testing.assert_array_equal(target.head.weight.numpy(), source.head.weight.numpy())
        assert requests == ['/tiny.pdparams']


def test_archive_url_is_unpacked_and_its_model_pdparams_loaded(tmp_path, checkpoint, source):
    www = tmp_path / 'www'
    www.mkdir()
    # the layout of PaddleSeg's backbone archives: one top folder holding model.pdparams
    with tarfile.open(www / 'tiny_ssld.tar.gz', 'w:gz') as tf:
        tf.add(checkpoint, arcname='tiny_ssld/model.pdparams')
        info = tarfile.TarInfo('tiny_ssld/README')
        info.size = 2
        tf.addfile(info, io.BytesIO(b'hi'))
    with serve_folder(str(www)) as (base_url, requests):
        target = TinyNet()
        load_pretrained_weights(target, base_url + '/tiny_ssld.tar.gz', strict=True)
        load_pretrained_weights(TinyNet(), base_url + '/tiny_ssld.tar.gz', strict=True)
        assert requests == ['/tiny_ssld.tar.gz']
    np.testing.assert_array_equal(target.bn._variance.numpy(), source.bn._variance.numpy())


def test_archive_without_model_pdparams_is_reported(tmp_path):
    www = tmp_path / 'www'
    www.mkdir()
    with tarfile.open(www / 'empty.tgz', 'w:gz') as tf:
        info = tarfile.TarInfo('empty/other.txt')
        info.size = 0
        tf.addfile(info, io.BytesIO(b''))
    with serve_folder(str(www)) as (base_url, _):
        with pytest.raises(FileNotFoundError, match='empty.tgz.*model.pdparams'):
            load_pretrained_weights(TinyNet(), base_url + '/empty.tgz')


def test_unreachable_url_leaves_the_layer_unchanged():
    target = TinyNet()
    before = _state(target)
    url = closed_port_url('weights.pdparams')
    with pytest.raises(DownloadError, match='weights.pdparams'):
        load_pretrained_weights(target, url)
    for key, value in _state(target).items():
        np.testing.assert_array_equal(value, before[key])


def test_non_strict_refuses_a_file_that_fits_under_half_the_layer(tmp_path, source):
    # another network's file: only the conv's two tensors fit the layer's eight
    state = {k: v for k, v in _state(source).items() if k.startswith('conv.')}
    state.update({f'other.block{i}.weight': np.zeros((2, 2), 'float32') for i in range(6)})
    path = tmp_path / 'other_net.pdparams'
    paddle.save(state, str(path))
    target = TinyNet()
    before = _state(target)
    with pytest.raises(WeightsMismatchError,
                       match=r'other_net.pdparams fits only 2 of the 8 weights of TinyNet: it is '
                             r'the file of another network.*set it to null'):
        load_pretrained_weights(target, str(path))
    for key, value in _state(target).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)

"""build_model: constructors download nothing; weights load in one place and one order."""
import numpy as np
import paddle
import paddle.nn as nn
import pytest
import yaml

from paddlematting.builders import build_model, model_class
from paddlematting.config import manager
from paddlematting.config import Config, ConfigError
from paddlematting.utils.pretrained import WeightsMismatchError

# nothing listens on port 9 (discard): any attempt to download fails at once
UNREACHABLE = 'http://127.0.0.1:9/x.pdparams'


@manager.BACKBONES.add_component
class BuilderTestBackbone(nn.Layer):
    def __init__(self, pretrained=None):
        super().__init__()
        self.pretrained = pretrained
        self.conv = nn.Conv2D(3, 2, 1)


@manager.MODELS.add_component
class BuilderTestNet(nn.Layer):
    input_names = ('img', 'trimap')

    def __init__(self, backbone, pretrained=None):
        super().__init__()
        self.backbone = backbone
        self.pretrained = pretrained
        self.head = nn.Conv2D(2, 1, 1)


def _cfg(tmp_path, model):
    path = tmp_path / 'c.yml'
    path.write_text(yaml.safe_dump({'model': model}))
    return Config(str(path))


def _save(state, path):
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, str(path))
    return str(path)


def test_constructors_only_store_pretrained(tmp_path):
    model = BuilderTestNet(BuilderTestBackbone(pretrained=UNREACHABLE), pretrained=UNREACHABLE)
    assert model.pretrained == model.backbone.pretrained == UNREACHABLE


def test_backbone_then_model_pretrained_then_nothing_else(tmp_path):
    ones = {'conv.weight': np.ones((2, 3, 1, 1), 'float32'), 'conv.bias': np.ones(2, 'float32'),
            'fc.weight': np.ones((4, 4), 'float32')}  # a classifier the backbone lacks
    backbone_file = _save(ones, tmp_path / 'backbone.pdparams')
    whole = {k: np.full(v.shape, 2, 'float32')
             for k, v in BuilderTestNet(BuilderTestBackbone()).state_dict().items()}
    whole['head.bias'][:] = 3
    model_file = _save(whole, tmp_path / 'model.pdparams')

    # the part's file alone: loaded non-strictly
    model = build_model(_cfg(tmp_path, {'type': 'BuilderTestNet', 'backbone': {
        'type': 'BuilderTestBackbone', 'pretrained': backbone_file}}))
    assert float(model.backbone.conv.weight.sum()) == 6
    # then the model's own, strictly, over the backbone's
    model = build_model(_cfg(tmp_path, {'type': 'BuilderTestNet', 'pretrained': model_file,
                                        'backbone': {'type': 'BuilderTestBackbone',
                                                     'pretrained': backbone_file}}))
    assert float(model.backbone.conv.weight.sum()) == 12 and float(model.head.bias.sum()) == 3


def test_given_weights_skip_the_config_pretrained_and_load_strictly(tmp_path):
    cfg = _cfg(tmp_path, {'type': 'BuilderTestNet', 'pretrained': UNREACHABLE,
                          'backbone': {'type': 'BuilderTestBackbone', 'pretrained': UNREACHABLE}})
    with pytest.raises(Exception, match='127.0.0.1:9'):
        build_model(cfg)  # guards the next line: the config's keys need the network
    source = BuilderTestNet(BuilderTestBackbone())
    weights = str(tmp_path / 'w.pdparams')
    paddle.save(source.state_dict(), weights)
    model = build_model(cfg, weights)  # offline: the URLs are not touched
    np.testing.assert_array_equal(model.head.weight.numpy(), source.head.weight.numpy())
    partial = str(tmp_path / 'partial.pdparams')
    paddle.save(source.backbone.state_dict(), partial)
    with pytest.raises(WeightsMismatchError):
        build_model(cfg, partial)


def test_model_class_reads_the_declaration_without_building(tmp_path):
    cfg = _cfg(tmp_path, {'type': 'BuilderTestNet', 'backbone': {'type': 'BuilderTestBackbone'}})
    assert model_class(cfg) is BuilderTestNet
    with pytest.raises(ConfigError, match='model.type'):
        model_class(_cfg(tmp_path, {'backbone': {'type': 'BuilderTestBackbone'}}))
    with pytest.raises(ConfigError, match='BuilderTestNett'):
        model_class(_cfg(tmp_path, {'type': 'BuilderTestNett'}))


def test_offline_training_says_how_to_go_on_in_one_line(tmp_path, records, monkeypatch):
    """Offline, the config's backbone URL cannot be fetched: train.py prints one line naming the
    key and the two ways on (a local file, or null), and exits 2 before any step."""
    import os
    from conftest import REPO_ROOT
    from paddlematting.cli import train as train_cli
    monkeypatch.setenv('PADDLEMATTING_HOME', str(tmp_path / 'cache'))
    monkeypatch.setenv('PADDLEMATTING_DOWNLOAD_TIMEOUT', '2')
    config = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')
    # nothing listens on port 9 of this machine: the download fails as it does offline
    status = train_cli.main(['--config', config, '--save_dir', str(tmp_path / 'out'), '--opts',
                             'model.backbone.pretrained=https://127.0.0.1:9/mobilenetv2.tar.gz',
                             f'train_dataset.dataset_root={tmp_path}'])
    assert status == 2
    lines = [m for m in records if 'cannot be loaded' in m]
    assert len(lines) == 1 and '\n' not in lines[0] and not any('Traceback' in m for m in records)
    assert 'model.backbone.pretrained = https://127.0.0.1:9/mobilenetv2.tar.gz cannot be loaded' in lines[0]
    assert '--opts model.backbone.pretrained=PATH' in lines[0]
    assert '--opts model.backbone.pretrained=null' in lines[0]
    assert not (tmp_path / 'out' / 'iter_1').exists()

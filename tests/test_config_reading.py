"""Config: _base_ inheritance, overrides, component building and its error messages."""
import os
from typing import List, Optional, Tuple, Union

import numpy as np
import paddle
import pytest
import yaml

from paddlematting import Config, ConfigError
from paddlematting.builders import Built
from paddlematting.config import apply_opts, build_component, load_yaml_with_bases, manager, merge_config

from conftest import REPO_ROOT, write_yaml


class _TinyHead(paddle.nn.Layer):
    def __init__(self, channels: int, scale: float = 1.0):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, channels, 1)
        self.scale = scale


class _TinyNet(paddle.nn.Layer):
    def __init__(self, head, width: int = 2):
        super().__init__()
        self.head = head
        self.width = width


class _HintedOp:
    """A component whose hints cover every kind the config type check judges."""

    def __init__(self, count: int = 1, ratio: float = 1.0, flag: bool = False, name: str = 'x',
                 limit: Optional[int] = 5, sizes: List[int] = (1,), pair: Tuple[int, int] = (1, 2),
                 files: Union[str, List[str], None] = None, unset: int = None,
                 layer: paddle.nn.Layer = None, anything=0):
        vars(self).update({k: v for k, v in locals().items() if k != 'self'})


class _UnresolvableHints:
    """Its hint names a type that does not exist: the type check must step aside."""

    def __init__(self, size: 'NoSuchType' = 1):  # noqa: F821
        self.size = size


for _cls, _registry in ((_TinyHead, manager.BACKBONES), (_TinyNet, manager.MODELS),
                        (_HintedOp, manager.TRANSFORMS), (_UnresolvableHints, manager.TRANSFORMS)):
    if _cls.__name__ not in _registry.components_dict:
        _registry.add_component(_cls)


def test_base_chain_merges_mappings_and_replaces_lists(tmp_path):
    write_yaml(tmp_path / 'a' / 'root.yml', {'iters': 5, 'model': {'type': '_TinyNet', 'width': 3,
                                                                   'head': {'type': '_TinyHead', 'channels': 4}},
                                             'values': [1, 2, 3]})
    write_yaml(tmp_path / 'a' / 'b' / 'mid.yml', {'_base_': '../root.yml', 'model': {'width': 7}})
    child = write_yaml(tmp_path / 'c' / 'child.yml', {'_base_': '../a/b/mid.yml', 'values': [9],
                                                      'model': {'head': {'channels': 8}}})
    dic = load_yaml_with_bases(child)
    assert dic == {'iters': 5, 'values': [9],
                   'model': {'type': '_TinyNet', 'width': 7, 'head': {'type': '_TinyHead', 'channels': 8}}}


def test_base_resolved_relative_to_file_not_cwd(tmp_path, monkeypatch):
    write_yaml(tmp_path / 'base.yml', {'iters': 3})
    child = write_yaml(tmp_path / 'sub' / 'child.yml', {'_base_': '../base.yml', 'batch_size': 2})
    monkeypatch.chdir(tmp_path / 'sub')
    assert Config(os.path.basename(child)).iters == 3


def test_list_of_bases_later_wins(tmp_path):
    write_yaml(tmp_path / 'one.yml', {'iters': 1, 'batch_size': 1})
    write_yaml(tmp_path / 'two.yml', {'iters': 2})
    child = write_yaml(tmp_path / 'child.yml', {'_base_': ['one.yml', 'two.yml']})
    assert load_yaml_with_bases(child) == {'iters': 2, 'batch_size': 1}


def test_inherited_false_replaces_mapping():
    base = {'model': {'type': 'A', 'x': 1, 'y': 2}}
    child = {'model': {'_inherited_': False, 'type': 'B', 'x': 5}}
    assert merge_config(base, child) == {'model': {'type': 'B', 'x': 5}}
    assert base == {'model': {'type': 'A', 'x': 1, 'y': 2}}  # inputs untouched


def test_base_cycle_is_rejected(tmp_path):
    write_yaml(tmp_path / 'x.yml', {'_base_': 'y.yml'})
    write_yaml(tmp_path / 'y.yml', {'_base_': 'x.yml'})
    with pytest.raises(ConfigError, match='cycle') as e:
        load_yaml_with_bases(str(tmp_path / 'x.yml'))
    assert 'x.yml' in str(e.value) and 'y.yml' in str(e.value)


def test_missing_base_names_file_and_key(tmp_path):
    child = write_yaml(tmp_path / 'child.yml', {'_base_': 'nowhere.yml'})
    with pytest.raises(ConfigError) as e:
        load_yaml_with_bases(child)
    assert 'child.yml' in str(e.value) and '_base_' in str(e.value) and 'nowhere.yml' in str(e.value)


def test_missing_config_file():
    with pytest.raises(ConfigError, match='does not exist'):
        Config('/no/such/config.yml')


def test_opts_parse_yaml_values_and_create_keys():
    dic = {'model': {'backbone': {'pretrained': 'http://x'}}, 'iters': 10}
    out = apply_opts(dic, ['model.backbone.pretrained=null', 'iters=20', 'a.b.c=[1, 2]', 'lr=1e-3', 'name=abc'])
    assert out['model']['backbone']['pretrained'] is None
    assert out['iters'] == 20 and out['a'] == {'b': {'c': [1, 2]}}
    assert out['lr'] == pytest.approx(1e-3) and out['name'] == 'abc'
    assert dic['iters'] == 10


@pytest.mark.parametrize('bad', ['noequals', '=3', 'a..b=1'])
def test_opts_malformed(bad):
    with pytest.raises(ConfigError, match='--opts'):
        apply_opts({}, [bad])


def test_opts_through_a_non_mapping_is_an_error():
    with pytest.raises(ConfigError, match='"iters" is a int'):
        apply_opts({'iters': 3}, ['iters.x=1'])


def test_overrides_and_validation(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {'iters': 10, 'batch_size': 4, 'learning_rate': {'value': 0.1}})
    cfg = Built(Config(path, iters=3, batch_size=2, learning_rate=0.5))
    assert (cfg.config.iters, cfg.config.batch_size) == (3, 2)
    # the block decays polynomially over the overridden iters, from the overridden rate
    assert cfg.lr_scheduler.base_lr == 0.5 and cfg.lr_scheduler.decay_steps == 3
    bad = write_yaml(tmp_path / 'bad.yml', {'iters': 'many'})
    with pytest.raises(ConfigError) as e:
        Config(bad)
    assert 'bad.yml' in str(e.value) and '"iters"' in str(e.value) and 'positive integer' in str(e.value)


def test_builds_nested_components(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {'model': {'type': '_TinyNet', 'width': 3,
                                                     'head': {'type': '_TinyHead', 'channels': 4, 'scale': 0.5}}})
    cfg = Built(Config(path))
    model = cfg.model
    assert isinstance(model, _TinyNet) and isinstance(model.head, _TinyHead)
    assert model.width == 3 and model.head.scale == 0.5 and model.head.conv.weight.shape == [4, 3, 1, 1]
    assert cfg.model is model  # built once


def test_unknown_type_lists_names_and_closest(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {'model': {'type': '_TinyNett', 'head': None}})
    with pytest.raises(ConfigError) as e:
        Built(Config(path)).model
    msg = str(e.value)
    assert 'c.yml' in msg and '"model.type"' in msg and 'Did you mean "_TinyNet"' in msg


def test_missing_required_argument_names_key(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {'model': {'type': '_TinyNet', 'head': {'type': '_TinyHead'}}})
    with pytest.raises(ConfigError) as e:
        Built(Config(path)).model
    msg = str(e.value)
    assert 'model.head' in msg and '_TinyHead' in msg and 'channels' in msg


def test_unexpected_argument_names_key(tmp_path):
    with pytest.raises(ConfigError) as e:
        build_component({'type': '_TinyHead', 'channels': 2, 'colour': 'red'}, 'model.head', 'f.yml')
    assert 'model.head' in str(e.value) and 'colour' in str(e.value)


def test_best_metric_defaults_to_sad_and_accepts_any_registered_metric(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {'iters': 5})
    assert Config(path).best_metric == 'sad'
    assert Config(path, opts=['best_metric=MSE']).best_metric == 'mse'
    with pytest.raises(ConfigError, match=r'"best_metric" is \'psnr\'; expected one of .*conn'):
        Config(path, opts=['best_metric=psnr'])


def test_str_is_the_merged_yaml(tmp_path):
    write_yaml(tmp_path / 'base.yml', {'iters': 5, 'model': {'type': '_TinyNet'}})
    child = write_yaml(tmp_path / 'child.yml', {'_base_': 'base.yml', 'batch_size': 3})
    cfg = Config(child, opts=['model.width=9'])
    assert yaml.safe_load(str(cfg)) == {'iters': 5, 'batch_size': 3, 'model': {'type': '_TinyNet', 'width': 9}}


def test_scientific_notation_without_dot_is_a_float(tmp_path):
    path = tmp_path / 'c.yml'
    path.write_text('iters: 10\noptimizer: {type: sgd, weight_decay: 4e-5}\n')
    assert Config(str(path)).dic['optimizer']['weight_decay'] == pytest.approx(4e-5)
    assert apply_opts({}, ['a=123'])['a'] == 123 and isinstance(apply_opts({}, ['a=123'])['a'], int)


# ----------------------------------------------------------------------------- argument types
MODNET_CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')


def test_wrong_type_names_key_and_expected_type():
    cfg = Built(Config(MODNET_CONFIG, opts=['model.backbone.pretrained=null', 'model.hr_channels=abc']))
    with pytest.raises(ConfigError) as e:
        cfg.model
    assert str(e.value) == f'{MODNET_CONFIG}: "model.hr_channels" must be int, got \'abc\' (str)'


def _hinted(**kwargs):
    return build_component({'type': '_HintedOp', **kwargs}, 'val_dataset.transforms[0]', 'f.yml')


@pytest.mark.parametrize('kwargs', [
    {'ratio': 2},                       # an int is a fine float
    {'limit': None},                    # Optional accepts None
    {'unset': None},                    # so does a None default
    {'count': 3, 'flag': True, 'name': 'y', 'sizes': [4, 5], 'pair': [3, 4]},
    {'files': 'a.txt'}, {'files': ['a.txt', 'b.txt']}, {'files': None},
    {'layer': {'type': '_TinyHead', 'channels': 2}},  # a built component for a class hint
    {'anything': 'whatever'},           # unannotated: no check
])
def test_values_that_fit_their_hints_build(kwargs):
    op = _hinted(**kwargs)
    for key, value in kwargs.items():
        if key == 'layer':
            assert isinstance(op.layer, _TinyHead)
        else:
            assert getattr(op, key) == value


@pytest.mark.parametrize('kwargs, expected', [
    ({'count': True}, '"val_dataset.transforms[0].count" must be int, got True (bool)'),
    ({'count': 2.5}, '"val_dataset.transforms[0].count" must be int, got 2.5 (float)'),
    ({'ratio': False}, 'must be float, got False (bool)'),
    ({'ratio': None}, 'must be float, got None (NoneType)'),
    ({'flag': 1}, 'must be bool, got 1 (int)'),
    ({'name': 3}, 'must be str, got 3 (int)'),
    ({'limit': 'big'}, 'must be int or None, got \'big\' (str)'),
    ({'sizes': ['a']}, '"val_dataset.transforms[0].sizes" must be a list of int, got [\'a\'] (list)'),
    ({'sizes': 3}, 'must be a list of int, got 3 (int)'),
    ({'pair': [1, 2, 3]}, 'must be a list of 2 values [int, int], got [1, 2, 3] (list)'),
    ({'files': [1]}, 'must be str or a list of str or None, got [1] (list)'),
    ({'count': {'type': '_TinyHead', 'channels': 2}}, 'must be int, got {'),
])
def test_values_that_contradict_their_hints_are_refused(kwargs, expected):
    with pytest.raises(ConfigError) as e:
        _hinted(**kwargs)
    assert str(e.value).startswith('f.yml: ') and expected in str(e.value)


def test_unresolvable_hints_skip_the_check():
    op = build_component({'type': '_UnresolvableHints', 'size': 'abc'}, 'x', 'f.yml')
    assert op.size == 'abc'


# ----------------------------------------------------------------------------- key typos
@pytest.mark.parametrize('where', ['file', 'opts'])
def test_unknown_top_level_key_names_it_and_the_closest(tmp_path, where):
    dic = {'iters': 5, 'model': {'type': '_TinyNet'}}
    if where == 'file':
        dic['itres'] = 7
    path = write_yaml(tmp_path / 'c.yml', dic)
    with pytest.raises(ConfigError) as e:
        Config(path, opts=['itres=7'] if where == 'opts' else [])
    msg = str(e.value)
    assert 'c.yml' in msg and '"itres"' in msg and 'did you mean "iters"' in msg
    assert msg.startswith('--opts') == (where == 'opts')


def test_underscore_top_level_keys_are_free(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {'iters': 5, '_notes': 'mine', '_anchors': {'a': 1}})
    assert Config(path, opts=['_extra=1']).dic['_notes'] == 'mine'


def test_misspelt_component_argument_suggests_the_parameter():
    cfg = Built(Config(MODNET_CONFIG, opts=['val_dataset.transfroms=[]',
                                            'val_dataset.dataset_root=/no/such/dir']))
    for build in (lambda: cfg.val_transforms, lambda: cfg.val_dataset):
        with pytest.raises(ConfigError) as e:
            build()
        msg = str(e.value)
        assert msg.startswith(MODNET_CONFIG)
        assert ('"val_dataset.transfroms" is not an argument of MattingDataset '
                '(did you mean "transforms"?)') in msg


def test_arguments_are_checked_before_nested_components_are_built():
    # the head's missing `channels` would fail if built; the model's own typo is reported first
    expected = r'"model\.widht" is not an argument of _TinyNet \(did you mean "width"\?\)'
    with pytest.raises(ConfigError, match=expected):
        build_component({'type': '_TinyNet', 'widht': 2, 'head': {'type': '_TinyHead'}},
                        'model', 'f.yml', manager.MODELS)

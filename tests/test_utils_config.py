"""Config: _base_ inheritance, overrides, component building and its error messages."""
import glob
import os
import subprocess
import sys
from typing import List, Optional, Tuple, Union

import numpy as np
import paddle
import pytest
import yaml

from paddlematting import Config, ConfigError
from paddlematting.utils import manager
from paddlematting.utils.config import apply_opts, build_component, load_yaml_with_bases, merge_config

from conftest import REPO_ROOT


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


def write_yaml(path, dic):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        yaml.safe_dump(dic, f)
    return str(path)


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
    cfg = Config(path, iters=3, batch_size=2, learning_rate=0.5)
    assert (cfg.iters, cfg.batch_size, cfg.lr_scheduler) == (3, 2, 0.5)
    bad = write_yaml(tmp_path / 'bad.yml', {'iters': 'many'})
    with pytest.raises(ConfigError) as e:
        Config(bad)
    assert 'bad.yml' in str(e.value) and '"iters"' in str(e.value) and 'positive integer' in str(e.value)


def test_builds_nested_components(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {'model': {'type': '_TinyNet', 'width': 3,
                                                     'head': {'type': '_TinyHead', 'channels': 4, 'scale': 0.5}}})
    cfg = Config(path)
    model = cfg.model
    assert isinstance(model, _TinyNet) and isinstance(model.head, _TinyHead)
    assert model.width == 3 and model.head.scale == 0.5 and model.head.conv.weight.shape == [4, 3, 1, 1]
    assert cfg.model is model  # built once


def test_unknown_type_lists_names_and_closest(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {'model': {'type': '_TinyNett', 'head': None}})
    with pytest.raises(ConfigError) as e:
        Config(path).model
    msg = str(e.value)
    assert 'c.yml' in msg and '"model.type"' in msg and 'Did you mean "_TinyNet"' in msg


def test_missing_required_argument_names_key(tmp_path):
    path = write_yaml(tmp_path / 'c.yml', {'model': {'type': '_TinyNet', 'head': {'type': '_TinyHead'}}})
    with pytest.raises(ConfigError) as e:
        Config(path).model
    msg = str(e.value)
    assert 'model.head' in msg and '_TinyHead' in msg and 'channels' in msg


def test_unexpected_argument_names_key(tmp_path):
    with pytest.raises(ConfigError) as e:
        build_component({'type': '_TinyHead', 'channels': 2, 'colour': 'red'}, 'model.head', 'f.yml')
    assert 'model.head' in str(e.value) and 'colour' in str(e.value)


def _optimizer_config(tmp_path, optimizer, lr):
    return write_yaml(tmp_path / 'o.yml', {'iters': 100, 'optimizer': optimizer, **lr,
                                           'model': {'type': '_TinyNet', 'head': {'type': '_TinyHead',
                                                                                  'channels': 2}}})


def test_sgd_with_momentum_and_piecewise(tmp_path):
    path = _optimizer_config(tmp_path, {'type': 'sgd', 'momentum': 0.9, 'weight_decay': 4e-5},
                             {'lr_scheduler': {'type': 'PiecewiseDecay', 'boundaries': [10, 20],
                                               'values': [0.02, 0.002, 0.0002]}})
    cfg = Config(path)
    opt = cfg.optimizer
    assert isinstance(opt, paddle.optimizer.Momentum)
    sched = cfg.lr_scheduler
    assert isinstance(sched, paddle.optimizer.lr.PiecewiseDecay)
    assert opt.get_lr() == pytest.approx(0.02)
    for _ in range(15):
        sched.step()
    assert opt.get_lr() == pytest.approx(0.002)
    # the override rescales every step of the schedule
    cfg2 = Config(path, learning_rate=0.04)
    assert cfg2.dic['lr_scheduler']['values'] == pytest.approx([0.04, 0.004, 0.0004])


def test_adam_with_poly_decay_defaults_to_iters(tmp_path):
    path = _optimizer_config(tmp_path, {'type': 'adam'},
                             {'learning_rate': {'value': 0.001, 'decay': {'type': 'poly', 'power': 0.9}}})
    cfg = Config(path)
    assert isinstance(cfg.optimizer, paddle.optimizer.Adam)
    sched = cfg.lr_scheduler
    assert isinstance(sched, paddle.optimizer.lr.PolynomialDecay)
    for _ in range(50):
        sched.step()
    assert sched() == pytest.approx(0.001 * (1 - 50 / 100) ** 0.9, rel=1e-6)


def test_learning_rate_block_with_piecewise_decay(tmp_path):
    # PiecewiseDecay takes no learning_rate: the block's value is the first of decay.values
    decay = {'type': 'piecewise', 'boundaries': [10, 20], 'values': [0.01, 0.001, 0.0001]}
    path = _optimizer_config(tmp_path, {'type': 'sgd'}, {'learning_rate': {'value': 0.01, 'decay': decay}})
    sched = Config(path).lr_scheduler
    assert isinstance(sched, paddle.optimizer.lr.PiecewiseDecay)
    rates = _schedule(sched, 21)
    assert (rates[0], rates[10], rates[20]) == pytest.approx((0.01, 0.001, 0.0001))
    # --learning_rate moves value and values together, keeping the ratios
    cfg = Config(path, learning_rate=0.04)
    assert cfg.dic['learning_rate']['value'] == 0.04
    assert cfg.dic['learning_rate']['decay']['values'] == pytest.approx([0.04, 0.004, 0.0004])
    assert cfg.lr_scheduler() == pytest.approx(0.04)


@pytest.mark.parametrize('decay, message', [
    ({'type': 'piecewise', 'boundaries': [10]},
     r'"learning_rate.decay.values" is missing; expected a list of rates'),
    ({'type': 'PiecewiseDecay', 'boundaries': [10], 'values': 0.01},
     r'"learning_rate.decay.values" is 0.01; expected a list of rates'),
    ({'type': 'piecewise', 'boundaries': [10], 'values': [0.02, 0.002]},
     r'"learning_rate.value" \(0.01\) must equal the first of "learning_rate.decay.values" \(0.02\)'),
    ({'type': 'OneCycleLR', 'max_learning_rate': 0.1, 'total_steps': 10},
     r'"learning_rate.decay.type" OneCycleLR takes no learning_rate'),
])
def test_learning_rate_block_mistakes_name_the_key(tmp_path, decay, message):
    path = _optimizer_config(tmp_path, {'type': 'sgd'}, {'learning_rate': {'value': 0.01, 'decay': decay}})
    with pytest.raises(ConfigError, match=message):
        Config(path).lr_scheduler


def test_adamw_cosine_and_constant(tmp_path):
    path = _optimizer_config(tmp_path, {'type': 'adamw', 'weight_decay': 0.01},
                             {'lr_scheduler': {'type': 'CosineAnnealingDecay', 'learning_rate': 0.1}})
    cfg = Config(path)
    assert isinstance(cfg.optimizer, paddle.optimizer.AdamW)
    assert cfg.lr_scheduler.T_max == 100
    const = _optimizer_config(tmp_path, {'type': 'sgd'}, {'learning_rate': {'value': 0.3}})
    cfg = Config(const)
    assert type(cfg.optimizer) is paddle.optimizer.SGD and cfg.optimizer.get_lr() == pytest.approx(0.3)


def _schedule(sched, steps):
    """The rate at steps 0..steps-1 (read, then stepped, as the trainer does per iteration)."""
    rates = []
    for _ in range(steps):
        rates.append(sched())
        sched.step()
    return rates


def test_warmup_rises_linearly_then_follows_poly_decay(tmp_path):
    poly = {'type': 'PolynomialDecay', 'learning_rate': 0.01, 'end_lr': 0, 'power': 0.9,
            'warmup_iters': 10, 'warmup_start_lr': 1.0e-5}
    cfg = Config(_optimizer_config(tmp_path, {'type': 'sgd', 'momentum': 0.9}, {'lr_scheduler': poly}))
    sched = cfg.lr_scheduler
    assert isinstance(sched, paddle.optimizer.lr.LinearWarmup)
    assert cfg.optimizer.get_lr() == pytest.approx(1.0e-5)
    rates = _schedule(sched, 101)
    # warmup: 1e-5 + (0.01 - 1e-5) * i / 10, i.e. equal steps of 9.99e-4 from 1e-5
    for i in range(10):
        assert rates[i] == pytest.approx(1.0e-5 + 9.99e-4 * i, rel=1e-9), i
    assert rates[10] == pytest.approx(0.01)
    # then the decay runs over the 90 iterations left: 0.01 * (1 - k / 90) ** 0.9, reaching 0 at iters
    assert sched.learning_rate.decay_steps == 90
    for k in (0, 1, 45, 89, 90):
        assert rates[10 + k] == pytest.approx(0.01 * (1 - k / 90) ** 0.9, rel=1e-6, abs=1e-12), k
    assert rates[100] == 0.0
    assert poly['warmup_iters'] == 10  # the config's own mapping is left as it was


def test_without_warmup_keys_the_scheduler_is_unchanged(tmp_path):
    for extra in ({}, {'warmup_iters': 0}, {'warmup_iters': 0, 'warmup_start_lr': 1.0e-5}):
        spec = {'type': 'PolynomialDecay', 'learning_rate': 0.01, **extra}
        sched = Config(_optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': spec})).lr_scheduler
        assert type(sched) is paddle.optimizer.lr.PolynomialDecay and sched.decay_steps == 100, extra
        assert _schedule(sched, 2) == pytest.approx([0.01, 0.01 * (1 - 1 / 100) ** 0.9])


def test_paddleseg_warmup_block_and_cosine_length(tmp_path):
    # lr_scheduler of Matting/configs/quick_start/ppmattingv2-stdc1-human_512.yml, verbatim
    quick_start = {'type': 'PolynomialDecay', 'learning_rate': 0.01, 'end_lr': 0, 'power': 0.9,
                   'warmup_iters': 100, 'warmup_start_lr': 1.0e-5}
    path = write_yaml(tmp_path / 'q.yml', {'iters': 1000, 'lr_scheduler': quick_start})
    sched = Config(path).lr_scheduler
    assert (sched.warmup_steps, sched.start_lr, sched.end_lr) == (100, 1.0e-5, 0.01)
    assert sched.learning_rate.decay_steps == 900
    # --learning_rate moves the rate the warmup ends at along with the schedule
    assert Config(path, learning_rate=0.05).lr_scheduler.end_lr == pytest.approx(0.05)
    cosine = {'type': 'CosineAnnealingDecay', 'learning_rate': 0.1, 'warmup_iters': 30, 'warmup_start_lr': 0}
    sched = Config(_optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': cosine})).lr_scheduler
    assert sched.learning_rate.T_max == 70
    rates = _schedule(sched, 101)
    assert rates[0] == 0.0 and rates[15] == pytest.approx(0.05) and rates[30] == pytest.approx(0.1)
    assert rates[100] == pytest.approx(0.0, abs=1e-12)  # half a cosine period after warmup


def test_warmup_before_piecewise_shifts_its_boundaries(tmp_path):
    spec = {'type': 'PiecewiseDecay', 'boundaries': [10], 'values': [0.02, 0.002],
            'warmup_iters': 4, 'warmup_start_lr': 0.0}
    cfg = Config(_optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': spec}))
    rates = _schedule(cfg.lr_scheduler, 16)
    np.testing.assert_allclose(rates[:5], [0.0, 0.005, 0.01, 0.015, 0.02], rtol=1e-9)
    # the piecewise schedule starts after warmup: its boundary 10 is step 14
    assert rates[13] == pytest.approx(0.02) and rates[14] == pytest.approx(0.002)


# paddle's LinearWarmup.set_state_dict warns about the nested scheduler's entry it then loads
@pytest.mark.filterwarnings('ignore:There are some unused values in state_dict')
def test_warmup_state_survives_a_resume(tmp_path):
    spec = {'type': 'PolynomialDecay', 'learning_rate': 0.01, 'warmup_iters': 10, 'warmup_start_lr': 1.0e-4}
    path = _optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': spec})
    first = Config(path).lr_scheduler
    _schedule(first, 25)
    resumed = Config(path).lr_scheduler
    resumed.set_state_dict(first.state_dict())
    assert _schedule(resumed, 5) == pytest.approx(_schedule(first, 5))
    assert resumed() == pytest.approx(0.01 * (1 - 20 / 90) ** 0.9)


@pytest.mark.parametrize('extra, message', [
    ({'warmup_iters': 10}, 'warmup_start_lr" is missing'),
    ({'warmup_start_lr': 1.0e-5}, 'warmup_iters" is not'),
    ({'warmup_iters': -1, 'warmup_start_lr': 0}, 'warmup_iters" must be an integer >= 0, got -1'),
    ({'warmup_iters': 2.5, 'warmup_start_lr': 0}, 'warmup_iters" must be an integer >= 0, got 2.5'),
    ({'warmup_iters': 10, 'warmup_start_lr': 'low'}, "warmup_start_lr\" must be a number >= 0, got 'low'"),
    ({'warmup_iters': 10, 'warmup_start_lr': 0.01},
     r'warmup_start_lr" \(0.01\) must be below .* PolynomialDecay, 0.01'),
])
def test_warmup_mistakes_name_the_key(tmp_path, extra, message):
    spec = {'type': 'PolynomialDecay', 'learning_rate': 0.01, **extra}
    with pytest.raises(ConfigError, match=f'lr_scheduler.{message}'):
        Config(_optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': spec})).lr_scheduler


def test_unknown_optimizer_and_scheduler(tmp_path):
    path = _optimizer_config(tmp_path, {'type': 'rmsprop2'}, {'learning_rate': {'value': 0.1}})
    with pytest.raises(ConfigError, match='optimizer.type'):
        Config(path).optimizer
    path = _optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': {'type': 'Wobbly'}})
    with pytest.raises(ConfigError, match='lr_scheduler.type'):
        Config(path).lr_scheduler


def test_str_is_the_merged_yaml(tmp_path):
    write_yaml(tmp_path / 'base.yml', {'iters': 5, 'model': {'type': '_TinyNet'}})
    child = write_yaml(tmp_path / 'child.yml', {'_base_': 'base.yml', 'batch_size': 3})
    cfg = Config(child, opts=['model.width=9'])
    assert yaml.safe_load(str(cfg)) == {'iters': 5, 'batch_size': 3, 'model': {'type': '_TinyNet', 'width': 9}}


@pytest.mark.parametrize('name,backbone', [('modnet/modnet_mobilenetv2.yml', 'MobileNetV2'),
                                           ('modnet/modnet_resnet50_vd.yml', 'ResNet50_vd'),
                                           ('modnet/modnet_hrnet_w18.yml', 'HRNet_W18'),
                                           ('dim/dim_vgg16.yml', 'VGG16')])
def test_seed_configs_read(name, backbone):
    cfg = Config(os.path.join(REPO_ROOT, 'configs', name))
    assert cfg.dic['model']['backbone']['type'] == backbone
    assert cfg.iters == 100000 and cfg.batch_size == 16
    assert cfg.dic['model']['backbone']['pretrained'].startswith('https://')
    # inherited values arrive through _base_
    assert cfg.val_dataset_config['mode'] == 'val'


def test_import_leaves_paddleseg_registries_alone():
    code = ('import paddleseg.cvlibs.manager as m\n'
            'names = ["MODELS", "BACKBONES", "DATASETS", "TRANSFORMS", "LOSSES"]\n'
            'before = {n: sorted(getattr(m, n).components_dict) for n in names}\n'
            'import paddlematting\n'
            'after = {n: sorted(getattr(m, n).components_dict) for n in names}\n'
            'assert before == after, [n for n in names if before[n] != after[n]]\n'
            'assert "MODNet" in paddlematting.manager.MODELS.components_dict or True\n'
            'print("ok")\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith('ok')


def test_scientific_notation_without_dot_is_a_float(tmp_path):
    path = tmp_path / 'c.yml'
    path.write_text('iters: 10\noptimizer: {type: sgd, weight_decay: 4e-5}\n')
    assert Config(str(path)).dic['optimizer']['weight_decay'] == pytest.approx(4e-5)
    assert apply_opts({}, ['a=123'])['a'] == 123 and isinstance(apply_opts({}, ['a=123'])['a'], int)


# ----------------------------------------------------------------------------- argument types
MODNET_CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')


def test_wrong_type_names_key_and_expected_type():
    cfg = Config(MODNET_CONFIG, opts=['model.backbone.pretrained=null', 'model.hr_channels=abc'])
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


SEED_CONFIGS = sorted(glob.glob(os.path.join(REPO_ROOT, 'configs', '**', '*.yml'), recursive=True))


def test_seed_config_list_is_complete():
    names = {os.path.relpath(p, os.path.join(REPO_ROOT, 'configs')) for p in SEED_CONFIGS}
    assert {'quick_start/modnet_mobilenetv2_demo.yml', 'dim/dim_vgg16.yml',
            'modnet/modnet_hrnet_w18.yml'} <= names


@pytest.mark.parametrize('path', SEED_CONFIGS, ids=lambda p: os.path.relpath(p, REPO_ROOT))
def test_seed_configs_build_without_false_alarms(path):
    cfg = Config(path, opts=['model.backbone.pretrained=null', 'model.pretrained=null'])
    assert isinstance(cfg.model, paddle.nn.Layer)
    assert len(cfg.val_transforms) == len(cfg.val_dataset_config['transforms'])
    if not getattr(cfg.model, 'trainable', True):  # classical solvers have no training section
        return
    train = build_component(cfg.train_dataset_config['transforms'], 'train_dataset.transforms', path)
    assert len(train) == len(cfg.train_dataset_config['transforms'])


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
    cfg = Config(MODNET_CONFIG, opts=['val_dataset.transfroms=[]',
                                      'val_dataset.dataset_root=/no/such/dir'])
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

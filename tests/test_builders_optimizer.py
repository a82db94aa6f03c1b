"""Learning-rate schedules and optimizers built from a config (builders/optimizer.py), as
PaddleSeg builds them; their argument types are checked when the config is read."""
import numpy as np
import paddle
import pytest

from conftest import write_yaml
from paddlematting import Config, ConfigError
from paddlematting.config import manager
from paddlematting.builders import Built


@manager.MODELS.add_component
class _OptimizerTestNet(paddle.nn.Layer):
    """Two parameters: enough for an optimizer to hold."""

    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(2, 1)


def _optimizer_config(tmp_path, optimizer, lr):
    return write_yaml(tmp_path / 'o.yml', {'iters': 100, 'optimizer': optimizer, **lr,
                                           'model': {'type': '_OptimizerTestNet'}})


def test_sgd_with_momentum_and_piecewise(tmp_path):
    path = _optimizer_config(tmp_path, {'type': 'sgd', 'momentum': 0.9, 'weight_decay': 4e-5},
                             {'lr_scheduler': {'type': 'PiecewiseDecay', 'boundaries': [10, 20],
                                               'values': [0.02, 0.002, 0.0002]}})
    cfg = Built(Config(path))
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
    cfg = Built(Config(path))
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
    sched = Built(Config(path)).lr_scheduler
    assert isinstance(sched, paddle.optimizer.lr.PiecewiseDecay)
    rates = _schedule(sched, 21)
    assert (rates[0], rates[10], rates[20]) == pytest.approx((0.01, 0.001, 0.0001))
    # --learning_rate moves value and values together, keeping the ratios
    cfg = Built(Config(path, learning_rate=0.04))
    assert cfg.config.dic['learning_rate']['value'] == 0.04
    assert cfg.config.dic['learning_rate']['decay']['values'] == pytest.approx([0.04, 0.004, 0.0004])
    assert cfg.lr_scheduler() == pytest.approx(0.04)


@pytest.mark.parametrize('decay, message', [
    ({'type': 'piecewise', 'boundaries': [10]},
     r'"learning_rate.decay.values" is missing; expected a list of rates'),
    ({'type': 'PiecewiseDecay', 'boundaries': [10], 'values': 0.01},
     r'"learning_rate.decay.values" must be a list of float, got 0.01'),  # when read
    ({'type': 'piecewise', 'boundaries': [10], 'values': [0.02, 0.002]},
     r'"learning_rate.value" \(0.01\) must equal the first of "learning_rate.decay.values" \(0.02\)'),
    ({'type': 'OneCycleLR', 'max_learning_rate': 0.1, 'total_steps': 10},
     r'"learning_rate.decay.type" OneCycleLR takes no learning_rate'),
])
def test_learning_rate_block_mistakes_name_the_key(tmp_path, decay, message):
    path = _optimizer_config(tmp_path, {'type': 'sgd'}, {'learning_rate': {'value': 0.01, 'decay': decay}})
    with pytest.raises(ConfigError, match=message):
        Built(Config(path)).lr_scheduler


def test_adamw_cosine_and_constant(tmp_path):
    path = _optimizer_config(tmp_path, {'type': 'adamw', 'weight_decay': 0.01},
                             {'lr_scheduler': {'type': 'CosineAnnealingDecay', 'learning_rate': 0.1}})
    cfg = Built(Config(path))
    assert isinstance(cfg.optimizer, paddle.optimizer.AdamW)
    assert cfg.lr_scheduler.T_max == 100
    # constant: `decay: null` (without the key PaddleSeg decays polynomially); momentum 0: SGD
    const = _optimizer_config(tmp_path, {'type': 'sgd', 'momentum': 0},
                              {'learning_rate': {'value': 0.3, 'decay': None}})
    cfg = Built(Config(const))
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
    cfg = Built(Config(_optimizer_config(tmp_path, {'type': 'sgd', 'momentum': 0.9}, {'lr_scheduler': poly})))
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
        sched = Built(Config(_optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': spec}))).lr_scheduler
        assert type(sched) is paddle.optimizer.lr.PolynomialDecay and sched.decay_steps == 100, extra
        assert _schedule(sched, 2) == pytest.approx([0.01, 0.01 * (1 - 1 / 100) ** 0.9])


def test_paddleseg_warmup_block_and_cosine_length(tmp_path):
    # lr_scheduler of Matting/configs/quick_start/ppmattingv2-stdc1-human_512.yml, verbatim
    quick_start = {'type': 'PolynomialDecay', 'learning_rate': 0.01, 'end_lr': 0, 'power': 0.9,
                   'warmup_iters': 100, 'warmup_start_lr': 1.0e-5}
    path = write_yaml(tmp_path / 'q.yml', {'iters': 1000, 'lr_scheduler': quick_start})
    sched = Built(Config(path)).lr_scheduler
    assert (sched.warmup_steps, sched.start_lr, sched.end_lr) == (100, 1.0e-5, 0.01)
    assert sched.learning_rate.decay_steps == 900
    # --learning_rate moves the rate the warmup ends at along with the schedule
    assert Built(Config(path, learning_rate=0.05)).lr_scheduler.end_lr == pytest.approx(0.05)
    cosine = {'type': 'CosineAnnealingDecay', 'learning_rate': 0.1, 'warmup_iters': 30, 'warmup_start_lr': 0}
    sched = Built(Config(_optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': cosine}))).lr_scheduler
    assert sched.learning_rate.T_max == 70
    rates = _schedule(sched, 101)
    assert rates[0] == 0.0 and rates[15] == pytest.approx(0.05) and rates[30] == pytest.approx(0.1)
    assert rates[100] == pytest.approx(0.0, abs=1e-12)  # half a cosine period after warmup


def test_warmup_before_piecewise_shifts_its_boundaries(tmp_path):
    spec = {'type': 'PiecewiseDecay', 'boundaries': [10], 'values': [0.02, 0.002],
            'warmup_iters': 4, 'warmup_start_lr': 0.0}
    cfg = Built(Config(_optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': spec})))
    rates = _schedule(cfg.lr_scheduler, 16)
    np.testing.assert_allclose(rates[:5], [0.0, 0.005, 0.01, 0.015, 0.02], rtol=1e-9)
    # the piecewise schedule starts after warmup: its boundary 10 is step 14
    assert rates[13] == pytest.approx(0.02) and rates[14] == pytest.approx(0.002)


# paddle's LinearWarmup.set_state_dict warns about the nested scheduler's entry it then loads
@pytest.mark.filterwarnings('ignore:There are some unused values in state_dict')
def test_warmup_state_survives_a_resume(tmp_path):
    spec = {'type': 'PolynomialDecay', 'learning_rate': 0.01, 'warmup_iters': 10, 'warmup_start_lr': 1.0e-4}
    path = _optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': spec})
    first = Built(Config(path)).lr_scheduler
    _schedule(first, 25)
    resumed = Built(Config(path)).lr_scheduler
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
        Built(Config(_optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': spec}))).lr_scheduler


def test_unknown_optimizer_and_scheduler(tmp_path):
    path = _optimizer_config(tmp_path, {'type': 'rmsprop2'}, {'learning_rate': {'value': 0.1}})
    with pytest.raises(ConfigError, match='optimizer.type'):
        Built(Config(path)).optimizer
    path = _optimizer_config(tmp_path, {'type': 'sgd'}, {'lr_scheduler': {'type': 'Wobbly'}})
    with pytest.raises(ConfigError, match='lr_scheduler.type'):
        Built(Config(path)).lr_scheduler


@pytest.mark.parametrize('optimizer, lr, message', [
    ({'type': 'sgd', 'weight_decay': 'lots'}, {'learning_rate': {'value': 0.1}},
     r'"optimizer.weight_decay" must be float or None, got \'lots\''),
    ({'type': 'sgd', 'momentum': [0.9]}, {'learning_rate': {'value': 0.1}},
     r'"optimizer.momentum" must be float'),
    ({'type': 'sgd'}, {'lr_scheduler': {'type': 'PiecewiseDecay', 'boundaries': [10],
                                        'values': [0.1, 'x']}},
     r'"lr_scheduler.values" must be a list of float'),
    ({'type': 'sgd'}, {'lr_scheduler': {'type': 'PiecewiseDecay', 'boundaries': 10,
                                        'values': [0.1, 0.01]}},
     r'"lr_scheduler.boundaries" must be a list of int'),
    ({'type': 'sgd'}, {'learning_rate': {'value': 0.1, 'decay': {'type': 'poly', 'power': 'high'}}},
     r'"learning_rate.decay.power" must be float'),
    ({'type': 'sgd'}, {'learning_rate': {'value': '0.1'}}, r'"learning_rate.value" must be a number'),
    ({'type': 'rmsprop2'}, {'learning_rate': {'value': 0.1}}, r'"optimizer.type" is "rmsprop2"'),
])
def test_optimizer_and_schedule_types_are_checked_when_the_config_is_read(tmp_path, optimizer, lr,
                                                                          message):
    with pytest.raises(ConfigError, match=message):
        Config(_optimizer_config(tmp_path, optimizer, lr))  # nothing built yet


@pytest.mark.parametrize('block, expected', [
    # PaddleSeg 2.x: no 'decay' key -> poly, power 0.9, to 0 over `iters` (DIM's config)
    ({'value': 0.001}, lambda it: 0.001 * (1 - it / 2) ** 0.9),
    # an explicit poly block gives the same
    ({'value': 0.001, 'decay': {'type': 'poly', 'power': 0.9}}, lambda it: 0.001 * (1 - it / 2) ** 0.9),
    # other settings are honoured
    ({'value': 0.001, 'decay': {'type': 'poly', 'power': 2.0, 'end_lr': 1e-5}},
     lambda it: (0.001 - 1e-5) * (1 - it / 2) ** 2.0 + 1e-5),
    # `decay: null` keeps it constant
    ({'value': 0.001, 'decay': None}, lambda it: 0.001),
])
def test_learning_rate_block_follows_paddleseg_rules(tmp_path, block, expected):
    path = write_yaml(tmp_path / 'dim.yml', {'iters': 2, 'optimizer': {'type': 'sgd'},
                                             'learning_rate': block,
                                             'model': {'type': '_OptimizerTestNet'}})
    cfg = Built(Config(path))
    opt = cfg.optimizer
    rates = []
    for _ in range(2):
        rates.append(opt.get_lr())
        if isinstance(cfg.lr_scheduler, paddle.optimizer.lr.LRScheduler):
            cfg.lr_scheduler.step()
    # rates[1] is what PaddleSeg logged at "iter 2 of 2" (0.000536 for DIM's block)
    assert rates == pytest.approx([expected(0), expected(1)], rel=1e-6)
    if 'decay' not in block:
        assert rates[1] == pytest.approx(0.000536, abs=5e-7)
    # PaddleSeg's sgd is Momentum with momentum 0.9 unless set
    assert isinstance(opt, paddle.optimizer.Momentum) and opt._momentum == pytest.approx(0.9)

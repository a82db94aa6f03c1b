"""Configs are read and reported in bounded time: YAML aliases cannot expand past a limit,
error messages show values cut short, numbers are finite, and a command-line key is blamed
on the flag that set it; model sizes are checked before anything is allocated."""
import os

import numpy as np
import paddle
import pytest

import core_plugin  # noqa: F401  (registers CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting.builders.model import MAX_MODEL_PARAMETERS, build_model, parameter_count
from paddlematting.config import Config, ConfigError, build_component, manager
from paddlematting.config.loading import MAX_CONFIG_VALUES, expanded_size, parse_yaml
from paddlematting.config.bounded_repr import short_error, short_repr

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


def _laughs(levels=9, width=9):
    node = ['lol'] * width
    for _ in range(levels - 1):
        node = [node] * width  # shared, as YAML aliases are: 9**9 values, 81 objects
    return node


def test_expanded_size_counts_shared_values_without_expanding_them():
    assert expanded_size({'a': [1, 2], 'b': {'c': 3}}) == 1 + (1 + 2) + (1 + 1)
    shared = [1, 2, 3]
    assert expanded_size([shared, shared]) == 1 + 2 * 4
    assert expanded_size(_laughs()) is None  # 9**9 > MAX_CONFIG_VALUES, found at once
    # 1 + 9 + ... + 9**4 lists and 9**5 strings
    assert expanded_size(_laughs(5, 9)) == sum(9 ** i for i in range(6))
    loop = parse_yaml('a: &a [1, *a]')  # a list that contains itself
    assert loop['a'][1] is loop['a'] and expanded_size(loop) is None
    assert expanded_size(list(range(MAX_CONFIG_VALUES))) is None


def test_a_type_error_shows_a_huge_shared_value_cut_short():
    with pytest.raises(ConfigError) as caught:
        build_component({'type': 'CoreTestNet', 'width': _laughs()}, 'model', 'x.yml',
                        manager.MODELS)
    message = str(caught.value)
    assert '"model.width" must be int' in message and len(message) < 300


def test_short_repr_and_short_error_are_bounded():
    assert len(short_repr(_laughs(), limit=50)) <= 50
    assert short_repr(10 ** 5000).startswith('<a int too long')
    cpp = ('\n\n--------------------------------------\nC++ Traceback (most recent call last):\n'
           + 'frame\n' * 100 + '----------------------\nError Message Summary:\n'
           '----------------------\nResourceExhaustedError: Fail to alloc memory of 360010800000 '
           'size.\n  [Hint: Expected error == 0]\n')
    assert short_error(RuntimeError(cpp)) == ('ResourceExhaustedError: Fail to alloc memory of '
                                              '360010800000 size.')


def test_an_opts_value_of_a_lone_block_indicator_is_that_character():
    cfg = Config(TINY_CONFIG, opts=['train_dataset.separator=|', 'val_dataset.separator=>'])
    assert cfg.dic['train_dataset']['separator'] == '|'
    assert cfg.dic['val_dataset']['separator'] == '>'
    from paddlematting.datasets.matting_dataset import MattingDataset
    with pytest.raises(ValueError, match="separator must be a non-empty string.*'\\|'"):
        MattingDataset(TEST_DATA_DIR, [], separator='')


@pytest.mark.parametrize('opts,flags,where,key', [
    (['iters=-1'], {}, '--opts iters=-1 (on ', '"iters"'),
    ([], {'iters': -1}, '--iters (on ', '"iters"'),
    ([], {'learning_rate': float('inf')}, '--learning_rate (on ', '"lr_scheduler.values[0]"'),
    (['lr_scheduler.values=[0.5, -0.1]'], {}, '--opts lr_scheduler.values', 'learning rate'),
    (['optimizer.momentum=.nan'], {}, '--opts optimizer.momentum=.nan', '"optimizer.momentum"'),
    (['model.width=.inf'], {}, '--opts model.width=.inf', '"model.width" is inf'),
    (['export={transforms: 3}'], {}, '--opts export=', '"export.transforms"'),
    (['export={foo: 1}'], {}, '--opts export=', '"export.foo"'),
])
def test_bad_numbers_and_sections_name_the_key_and_the_flag(opts, flags, where, key):
    with pytest.raises(ConfigError) as caught:
        Config(TINY_CONFIG, opts=opts, **flags)
    message = str(caught.value)
    assert message.startswith(where) and key in message, message


def test_a_file_key_is_blamed_on_the_file(tmp_path):
    config = tmp_path / 'c.yml'
    config.write_text(f'_base_: {TINY_CONFIG}\niters: -3\n')
    with pytest.raises(ConfigError, match=r'^.*c\.yml: key "iters"'):
        Config(str(config), opts=['batch_size=2'])


def test_the_model_size_is_counted_without_allocating_or_drawing_random_numbers():
    cfg = Config(TINY_CONFIG)
    paddle.seed(5)
    built = build_model(cfg)
    expected = sum(int(np.prod(p.shape)) for p in built.parameters())
    paddle.seed(5)
    assert parameter_count(cfg) == expected == 3 * 8 * 9 + 8 + 8 * 9 + 1
    again = build_model(cfg)  # the count drew nothing: the same initial weights
    for (name, a), b in zip(built.state_dict().items(), again.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    huge = Config(TINY_CONFIG, opts=[f'model.width={MAX_MODEL_PARAMETERS}'])
    with pytest.raises(ConfigError, match=r'model\.width=1073741824 \(default 8\)'):
        build_model(huge)


class _Allocates:
    """Stands for a layer whose constructor asks paddle for too much memory."""

    def __init__(self, channels: int = 32, depth: int = 2):
        raise MemoryError('(ResourceExhausted) Fail to alloc memory of 360010800000 size, error '
                          'code is 12.\n  [Hint: Expected error == 0]')


def test_a_failed_allocation_while_building_names_the_size_arguments():
    manager.MODELS.components_dict['_AllocatesForTest'] = _Allocates
    try:
        with pytest.raises(ConfigError) as caught:
            build_component({'type': '_AllocatesForTest', 'channels': 100000, 'depth': 2},
                            'model', 'x.yml', manager.MODELS)
    finally:
        del manager.MODELS.components_dict['_AllocatesForTest']
    message = str(caught.value)
    assert 'Fail to alloc memory' in message and '\n' not in message
    assert 'check model.channels=100000 (default 32)' in message and 'depth' not in message

"""A resumed checkpoint's state.json is checked field by field (engine.run_state), and a
non-finite loss stops training before it changes anything, the last checkpoint intact."""
import json
import os
import shutil

import numpy as np
import pytest

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting import Config
from paddlematting.builders import Built
from paddlematting.engine.run_state import RunStateError, check_run_state
from paddlematting.engine.runtime import seed_everything
from paddlematting.engine.trainer import NonFiniteLossError, Trainer, TrainOptions
from paddlematting.utils.weights_io import load_state_dict

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


def _trainer(save_dir, iters, resume=None, opts=(), save_interval=100):
    seed_everything(0)
    built = Built(Config(TINY_CONFIG, opts=['batch_size=2', *opts]))
    options = TrainOptions(iters=iters, batch_size=2, save_dir=str(save_dir), seed=7,
                           save_interval=save_interval, resume_model=resume)
    return Trainer(built.model, built.optimizer, built.train_dataset, options,
                   lr_scheduler=built.lr_scheduler)


@pytest.fixture(scope='module')
def checkpoint_state(tmp_path_factory):
    """A real state.json (after 2 steps) and the folder it came from."""
    save_dir = tmp_path_factory.mktemp('run')
    _trainer(save_dir, 2).train()
    folder = save_dir / 'iter_2'
    return json.loads((folder / 'state.json').read_text()), folder


def _edited(state, edit):
    state = json.loads(json.dumps(state))
    edit(state)
    return state


def _set(path, value):
    def edit(state):
        node = state
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return edit


# (what is changed, the key the message must name)
BAD_FIELDS = [
    (_set(['iter'], 10 ** 30), '"iter"'),
    (_set(['iter'], 5), '"iter"'),  # the folder is iter_2
    (_set(['iter'], 'two'), '"iter"'),
    (_set(['best_iter'], 3), '"best_iter"'),
    (_set(['best_score'], 'NaN'), '"best_score"'),
    (_set(['sample_seed'], -1), '"sample_seed"'),
    (_set(['world_size'], 0), '"world_size"'),
    (_set(['batch_size'], 2.5), '"batch_size"'),
    (_set(['lr_scheduler'], [1, 2]), '"lr_scheduler"'),
    (_set(['rng'], 'gAN9cQAu'), '"rng"'),  # the old pickle form
    (_set(['rng', 'python', 1], list(range(10))), '"rng.python[1]"'),
    (_set(['rng', 'python', 1, 624], 10 ** 6), '"rng.python[1][624]"'),
    (_set(['rng', 'numpy', 1, 0], 2 ** 32), '"rng.numpy[1]"'),
    (_set(['rng', 'numpy', 2], 625), '"rng.numpy[2]"'),
    (_set(['rng', 'numpy', 0], 'PCG64'), '"rng.numpy"'),
    (_set(['rng', 'paddle', 0, 3], [49, 32, 50]), '"rng.paddle[0][3]"'),
    (_set(['rng', 'paddle', 0, 1], 2 ** 64), '"rng.paddle[0][1]"'),
    (_set(['rng', 'paddle'], {}), '"rng.paddle"'),
]


def test_the_state_a_run_writes_passes_the_checks(checkpoint_state):
    state, folder = checkpoint_state
    check_run_state(state, str(folder / 'state.json'), str(folder))  # no error


@pytest.mark.parametrize('edit,key', BAD_FIELDS, ids=[key for _, key in BAD_FIELDS])
def test_each_wrong_field_is_refused_naming_the_file_and_key(checkpoint_state, edit, key):
    state, folder = checkpoint_state
    path = str(folder / 'state.json')
    with pytest.raises(RunStateError) as caught:
        check_run_state(_edited(state, edit), path, str(folder))
    message = str(caught.value)
    assert message.startswith(path) and key in message and '\n' not in message
    assert len(message) < 400  # the value is shown cut short (10**30, 624 numbers)


def test_resume_refuses_a_bad_state_json_before_any_step(tmp_path, checkpoint_state):
    state, folder = checkpoint_state
    copy = tmp_path / 'run' / 'iter_2'
    shutil.copytree(folder, copy)
    (copy / 'state.json').write_text(json.dumps(_edited(state, _set(['iter'], 10 ** 30))))
    with pytest.raises(RunStateError, match='"iter"'):
        _trainer(tmp_path / 'out', 4, resume=str(copy)).train()
    assert not (tmp_path / 'out' / 'iter_4').exists()
    (copy / 'state.json').write_text('{"iter": 2, ')  # cut off
    with pytest.raises(RunStateError, match='not a readable state.json'):
        _trainer(tmp_path / 'out', 4, resume=str(copy)).train()


def test_a_schedule_state_of_another_shape_is_refused(tmp_path, checkpoint_state):
    state, folder = checkpoint_state
    copy = tmp_path / 'iter_2'
    shutil.copytree(folder, copy)
    edited = _edited(state, _set(['lr_scheduler'], {'last_epoch': 'x', 'last_lr': 0.5}))
    (copy / 'state.json').write_text(json.dumps(edited))
    with pytest.raises(RunStateError, match=r'"lr_scheduler\.last_epoch"'):
        _trainer(tmp_path / 'out', 4, resume=str(copy)).train()


def test_a_non_finite_loss_stops_training_and_keeps_the_last_checkpoint(tmp_path):
    reference = _trainer(tmp_path / 'ref', 4, save_interval=2)
    reference.train()
    # the 5th step's loss is NaN: iter_2 and iter_4 are saved, nothing after
    stopped = _trainer(tmp_path / 'nan', 8, opts=['model.nan_loss_at=5'], save_interval=2)
    with pytest.raises(NonFiniteLossError) as caught:
        stopped.train()
    message = str(caught.value)
    assert 'at iter 5' in message and 'iter_4' in message and '\n' not in message
    save_dir = tmp_path / 'nan'
    assert sorted(n for n in os.listdir(save_dir) if n.startswith('iter_')) == ['iter_2', 'iter_4']
    assert (save_dir / 'latest').read_text().strip() == 'iter_4'
    expected = load_state_dict(str(tmp_path / 'ref' / 'iter_4' / 'model.pdparams'))
    kept = load_state_dict(str(save_dir / 'iter_4' / 'model.pdparams'))
    for key, value in expected.items():
        np.testing.assert_array_equal(kept[key], value, err_msg=key)
    # the model in memory is that of iter 4 too: the NaN step applied nothing
    for key, value in stopped.model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), expected[key], err_msg=key)

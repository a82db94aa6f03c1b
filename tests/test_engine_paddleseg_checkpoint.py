"""Resuming from checkpoint folders written by PaddleSeg's train.py.

No PaddleSeg can run here, so the folders are written by the documented rules of its
``train.py`` (contrib/Matting 02688dd8 and Matting/ d7975e7c): ``iter_N/model.pdparams`` holds
``model.state_dict()``; ``iter_N/model.pdopt`` holds ``optimizer.state_dict()`` as paddle saves
it, i.e. ``'<parameter name>_velocity_0'`` per trainable parameter in parameter order (names
automatic ``conv2d_<n>.w_0`` counted from the saving process's first layer, or explicit
``ParamAttr`` names such as MobileNetV2's ``conv1_1_weights``) plus ``LR_Scheduler``; and there is
no state.json. We take one of our own checkpoints and rewrite it into exactly that form.
"""
import os
import shutil

import numpy as np
import paddle
import pytest

from paddlematting.engine import checkpoint
from paddlematting.engine.paddleseg_checkpoint import (PaddleSegCheckpointError,
                                                     convert_optimizer_state,
                                                     iteration_from_folder)
from test_engine_trainer import _tiny_trainer, _weights

OPTS = ['batch_size=2']


def _paddleseg_names(count):
    """Parameter names as another process would have made them: explicit for the first, automatic
    (with its own counters) for the rest."""
    names = ['conv1_1_weights']
    names += [f'conv2d_{i // 2}.{"w" if i % 2 == 0 else "b"}_0' for i in range(count - 1)]
    return names


def _rewrite_as_paddleseg(folder, model):
    """Turn our iter_N folder into PaddleSeg's form; return {structured name: velocity}."""
    opt_path = os.path.join(folder, checkpoint.OPTIMIZER_FILE)
    ours = paddle.load(opt_path)
    name_map = ours.pop(checkpoint._NAME_MAP_KEY)
    trainable = [(n, p) for n, p in model.named_parameters() if not p.stop_gradient]
    foreign = dict(zip([p.name for _, p in trainable], _paddleseg_names(len(trainable))))
    expected, paddleseg = {}, {}
    for key, value in ours.items():
        if key.endswith('_velocity_0'):
            param_name = key[:-len('_velocity_0')]
            expected[name_map[param_name]] = np.array(value)
            paddleseg[foreign[param_name] + '_velocity_0'] = value
        else:
            paddleseg[key] = value
    assert 'LR_Scheduler' in paddleseg and len(expected) == len(trainable)
    paddle.save(paddleseg, opt_path)
    os.remove(os.path.join(folder, checkpoint.STATE_FILE))
    return expected


def test_iteration_comes_from_the_folder_name():
    assert iteration_from_folder('/x/output/iter_1200') == 1200
    assert iteration_from_folder('/x/output/iter_1200/') == 1200
    assert iteration_from_folder('/x/output/best_model') is None


def test_paddleseg_folder_resumes_at_its_iteration_with_its_velocities(tmp_path):
    first = _tiny_trainer(tmp_path / 'ours', 3, opts=OPTS)
    first.train()
    # the uninterrupted continuation from our own checkpoint is the ground truth
    reference = _tiny_trainer(tmp_path / 'ours', 5, resume=str(tmp_path / 'ours'), opts=OPTS)
    reference_outcome = reference.train()

    ps_dir = tmp_path / 'paddleseg' / 'iter_3'
    shutil.copytree(tmp_path / 'ours' / 'iter_3', ps_dir)
    expected = _rewrite_as_paddleseg(str(ps_dir), first.model)

    paddle.seed(999)  # other initial weights: only the load can make the runs agree
    resumed = _tiny_trainer(tmp_path / 'continued', 5, resume=str(ps_dir), opts=OPTS)
    # the accumulators are waiting under this process's parameter names, with PaddleSeg's values
    state = checkpoint.load_checkpoint(str(ps_dir), resumed.model, resumed.optimizer)
    assert state['iter'] == 3
    holder = resumed.optimizer._accumulators_holder
    for name, param in resumed.model.named_parameters():
        np.testing.assert_array_equal(np.array(holder[f'{param.name}_velocity_0']),
                                      expected[name], err_msg=name)

    outcome = resumed.train()
    assert outcome.iteration == 5
    # identical to resuming our own checkpoint: weights, optimizer and schedule all carried over
    np.testing.assert_allclose(outcome.losses, reference_outcome.losses[-2:], rtol=1e-6)
    want = _weights(reference.model)
    for key, value in _weights(resumed.model).items():
        np.testing.assert_allclose(value, want[key], rtol=1e-6, atol=1e-7, err_msg=key)
    assert resumed.optimizer.get_lr() == pytest.approx(reference.optimizer.get_lr())
    # the folder resumed from is never overwritten: new checkpoints go to save_dir
    assert not os.path.exists(ps_dir / checkpoint.STATE_FILE)
    assert (tmp_path / 'continued' / 'iter_5').is_dir()


def test_a_paddleseg_state_of_another_model_is_refused_by_name(tmp_path):
    trainer = _tiny_trainer(tmp_path / 'a', 1, opts=OPTS)
    params = [p for p in trainer.model.parameters() if not p.stop_gradient]
    state = {f'conv2d_{i}.w_0_velocity_0': np.zeros(p.shape, 'float32')
             for i, p in enumerate(params)}
    with pytest.raises(PaddleSegCheckpointError, match='holds 1 "velocity"'):
        convert_optimizer_state(trainer.model, dict(list(state.items())[:1]), 'x.pdopt')
    first_key = next(iter(state))
    state[first_key] = np.zeros([7, 7], 'float32')
    with pytest.raises(PaddleSegCheckpointError, match=r"x.pdopt: accumulator 'conv2d_0.w_0_velocity_0' has shape \[7, 7\]"):
        convert_optimizer_state(trainer.model, state, 'x.pdopt')

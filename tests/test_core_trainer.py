"""Trainer: learning, exact resume, atomic checkpoints, the sample order."""
import json
import os

import numpy as np
import paddle
import pytest

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting import Config
from paddlematting.core import checkpoint
from paddlematting.core.runtime import seed_everything
from paddlematting.core.sample_order import ResumableBatchSampler
from paddlematting.core.trainer import Trainer, TrainOptions

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


def _tiny_trainer(save_dir, iters, resume=None, opts=(), **option_overrides):
    seed_everything(0)
    cfg = Config(TINY_CONFIG, opts=list(opts))
    options = TrainOptions(iters=iters, batch_size=cfg.batch_size, save_dir=str(save_dir),
                           save_interval=option_overrides.pop('save_interval', 100),
                           log_iters=option_overrides.pop('log_iters', 100), seed=7,
                           resume_model=resume, **option_overrides)
    return Trainer(cfg.model, cfg.optimizer, cfg.train_dataset, options,
                   lr_scheduler=cfg.lr_scheduler)


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    # batch 2 of 8 samples: the break at iter 3 is mid-epoch; the dropout and the random
    # flips make the result depend on the restored random states and the sample order
    opts = ['model.dropout=0.3', 'batch_size=2']
    straight = _tiny_trainer(tmp_path / 'straight', 7, opts=opts)
    straight_outcome = straight.train()

    first = _tiny_trainer(tmp_path / 'split', 3, opts=opts)
    first.train()
    # a fresh process would rebuild everything: different initial weights prove the load
    paddle.seed(12345)
    resumed = _tiny_trainer(tmp_path / 'split', 7, resume=str(tmp_path / 'split'), opts=opts)
    resumed_outcome = resumed.train()

    assert resumed_outcome.iteration == 7
    np.testing.assert_allclose(resumed_outcome.losses, straight_outcome.losses[3:], rtol=1e-6)
    expected = _weights(straight.model)
    for key, value in _weights(resumed.model).items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-6, atol=1e-7, err_msg=key)
    # the learning-rate schedule continued (boundary at 3 -> 0.1 afterwards)
    assert resumed.optimizer.get_lr() == pytest.approx(straight.optimizer.get_lr())


def test_resume_with_different_weights_would_differ(tmp_path):
    """Guards the test above: without loading, the continued run gives other weights."""
    opts = ['batch_size=2']
    straight = _tiny_trainer(tmp_path / 'a', 4, opts=opts)
    straight.train()
    paddle.seed(12345)
    other = _tiny_trainer(tmp_path / 'b', 4, opts=opts)
    for layer in other.model.parameters():
        layer.set_value(layer.numpy() + 0.05)
    other.train()
    differs = [not np.allclose(v, _weights(straight.model)[k]) for k, v in
               _weights(other.model).items()]
    assert any(differs)


def test_checkpoints_are_pruned_and_latest_names_the_newest(tmp_path):
    trainer = _tiny_trainer(tmp_path, 5, save_interval=1, keep_checkpoint_max=2)
    outcome = trainer.train()
    names = sorted(os.listdir(tmp_path))
    assert names == ['iter_4', 'iter_5', 'latest']
    assert (tmp_path / 'latest').read_text().strip() == 'iter_5'
    assert outcome.last_checkpoint == str(tmp_path / 'iter_5')
    state = json.loads((tmp_path / 'iter_5' / 'state.json').read_text())
    assert state['iter'] == 5 and state['sample_seed'] == 7
    assert state['lr_scheduler']['last_epoch'] == 5
    assert sorted(os.listdir(tmp_path / 'iter_5')) == ['model.pdopt', 'model.pdparams',
                                                       'state.json']


def test_a_failed_save_leaves_no_partial_folder(tmp_path, monkeypatch):
    trainer = _tiny_trainer(tmp_path, 2, save_interval=1)
    real_save = paddle.save

    def failing_save(obj, path, *args, **kwargs):
        if path.endswith(checkpoint.OPTIMIZER_FILE) and 'iter_2' in path:
            real_save(obj, path, *args, **kwargs)
            raise OSError('disk full')
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(paddle, 'save', failing_save)
    with pytest.raises(OSError, match='disk full'):
        trainer.train()
    assert sorted(os.listdir(tmp_path)) == ['iter_1', 'latest']
    assert checkpoint.latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_1')


def test_resume_rejects_a_folder_without_checkpoint(tmp_path):
    trainer = _tiny_trainer(tmp_path / 'run', 2, resume=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='--resume_model'):
        trainer.train()


def test_batches_split_across_ranks_cover_the_single_process_batch():
    class Sized:
        def __len__(self):
            return 10

    whole = ResumableBatchSampler(Sized(), batch_size=4, seed=3)
    whole.start(epoch=2)
    halves = []
    for rank in range(2):
        sampler = ResumableBatchSampler(Sized(), batch_size=2, seed=3, num_replicas=2,
                                        rank=rank)
        sampler.start(epoch=2)
        halves.append(list(sampler))
    for step, batch in enumerate(whole):
        assert sorted(batch) == sorted(halves[0][step] + halves[1][step])
        assert all(epoch == 2 for epoch, _ in batch)
    # skipping resumes mid-epoch at the same batch; another epoch is another order
    whole.start(epoch=2, skip_batches=1)
    skipped = list(whole)
    whole.start(epoch=2)
    assert skipped == list(whole)[1:]
    epoch2 = [i for batch in list(whole) for _, i in batch]
    whole.start(epoch=3)
    assert [i for batch in list(whole) for _, i in batch] != epoch2


class _BrokenSet(core_plugin.CoreTestSet):
    def __getitem__(self, index):
        if index == 5:
            raise ValueError('sample 5 is unreadable')
        return super().__getitem__(index)


def test_a_bad_sample_raises_instead_of_hanging(tmp_path):
    seed_everything(0)
    cfg = Config(TINY_CONFIG)
    options = TrainOptions(iters=10, batch_size=4, save_dir=str(tmp_path), seed=7)
    trainer = Trainer(cfg.model, cfg.optimizer, _BrokenSet(8), options)
    with pytest.raises(ValueError, match='sample 5 is unreadable'):
        trainer.train()


def test_amp_on_cpu_is_ignored_with_a_message(tmp_path, caplog):
    trainer = _tiny_trainer(tmp_path, 2, amp=True)
    with caplog.at_level('WARNING', logger='paddlematting'):
        outcome = _tiny_trainer(tmp_path, 2, amp=True).train()
    assert trainer.scaler is None and outcome.iteration == 2
    assert any('--amp is ignored on CPU' in r.getMessage() for r in caplog.records)

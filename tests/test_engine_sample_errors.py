"""A bad sample surfaces with its own message (workers or not), and training saves the work
done so far before it stops on one."""
import os

import numpy as np
import paddle
import pytest

import core_plugin
from conftest import run_in_fresh_process
from paddlematting.engine import checkpoint
from paddlematting.engine.sample_errors import SampleError
from paddlematting.engine.sample_order import iterate_batches
from paddlematting.engine.trainer import Trainer, TrainOptions


class BrokenAt(paddle.io.Dataset):
    def __init__(self, bad_index, n=8):
        self.bad_index, self.n = bad_index, n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if index == self.bad_index:
            raise ValueError('/data/fg/x.png: cannot decode this file as an image.')
        return {'img': np.zeros((3, 4, 4), 'float32')}


def surfaces_with_workers():
    """Run in a fresh process (DataLoader workers)."""
    dataset = BrokenAt(5)
    try:
        for _ in iterate_batches(dataset, paddle.io.BatchSampler(dataset, batch_size=2), 1):
            pass
    except SampleError as error:
        assert 'dataset sample 5 could not be loaded: /data/fg/x.png: cannot decode' in str(error)
        return
    raise AssertionError('no SampleError')


def test_a_bad_sample_under_workers_names_itself_not_the_blocking_queue():
    run_in_fresh_process('test_engine_sample_errors', 'surfaces_with_workers')


def test_a_bad_sample_without_workers_names_itself():
    dataset = BrokenAt(3)
    with pytest.raises(SampleError, match='dataset sample 3 could not be loaded: /data/fg/x.png'):
        list(iterate_batches(dataset, paddle.io.BatchSampler(dataset, batch_size=2), 0))


class BadLater(core_plugin.CoreTestSet):
    """Sample 7 is unreadable: the first epoch's steps before it succeed."""

    def __getitem__(self, index):
        if index == 7:
            raise ValueError('/data/fg/bad.png: cannot decode this file as an image.')
        return super().__getitem__(index)


def test_training_saves_before_stopping_on_a_bad_sample(tmp_path):
    paddle.seed(0)
    model = core_plugin.CoreTestNet()
    optimizer = paddle.optimizer.SGD(0.1, parameters=model.parameters())
    options = TrainOptions(iters=100, batch_size=1, save_dir=str(tmp_path), save_interval=1000,
                           log_iters=1000, seed=1)
    trainer = Trainer(model, optimizer, BadLater(num_samples=8), options)
    with pytest.raises(SampleError, match='bad.png'):
        trainer.train()
    folder = checkpoint.latest_checkpoint(str(tmp_path))
    assert folder is not None, 'the steps before the bad sample were lost'
    assert checkpoint.read_state(folder)['iter'] >= 1

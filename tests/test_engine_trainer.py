"""Trainer: learning, exact resume, atomic checkpoints, the sample order."""
import json
import os
import signal

import numpy as np
import paddle
import pytest

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import TEST_DATA_DIR, run_in_fresh_process
from paddlematting import Config
from paddlematting.engine import checkpoint
from paddlematting.engine import trainer as trainer_module
from paddlematting.engine.evaluator import EvalResult
from paddlematting.engine.runtime import seed_everything
from paddlematting.engine.sample_order import ResumableBatchSampler, iterate_batches
from paddlematting.engine.trainer import Trainer, TrainOptions
from paddlematting.utils.pretrained import WeightsMismatchError
from paddlematting.builders import Built

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


def _tiny_trainer(save_dir, iters, resume=None, opts=(), with_val=False, **option_overrides):
    seed_everything(0)
    cfg = Built(Config(TINY_CONFIG, opts=list(opts)))
    options = TrainOptions(iters=iters, batch_size=cfg.config.batch_size, save_dir=str(save_dir),
                           save_interval=option_overrides.pop('save_interval', 100),
                           log_iters=option_overrides.pop('log_iters', 100), seed=7,
                           resume_model=resume, **option_overrides)
    return Trainer(cfg.model, cfg.optimizer, cfg.train_dataset, options,
                   val_dataset=cfg.val_dataset if with_val else None,
                   lr_scheduler=cfg.lr_scheduler)


def _script_evaluations(monkeypatch, sads):
    """Make every evaluation of the trainer report the next SAD of ``sads``."""
    scores = iter(sads)

    def scripted(runner, dataset, options=None):
        return EvalResult(metrics={'sad': next(scores)})

    monkeypatch.setattr(trainer_module, 'evaluate', scripted)


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
    cfg = Built(Config(TINY_CONFIG))
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


def test_resume_rejects_weights_that_do_not_fit_the_model(tmp_path):
    _tiny_trainer(tmp_path, 1, save_interval=1).train()
    wider = _tiny_trainer(tmp_path, 2, resume=str(tmp_path), opts=['model.width=4'])
    before = _weights(wider.model)
    with pytest.raises(WeightsMismatchError, match=r'--resume_model.*conv1\.weight'):
        wider.train()
    for key, value in _weights(wider.model).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_each_checkpoint_holds_the_best_score_including_its_own_evaluation(tmp_path,
                                                                           monkeypatch):
    _script_evaluations(monkeypatch, [5.0, 3.0])
    _tiny_trainer(tmp_path, 2, save_interval=1, with_val=True).train()
    for iteration, best in ((1, (5.0, 1)), (2, (3.0, 2))):
        state = checkpoint.read_state(str(tmp_path / f'iter_{iteration}'))
        assert (state['best_metric'], state['best_score'], state['best_iter']) == ('sad', *best), iteration

    # resumed from iter_2, a worse score at iter 3 must not replace best_model (iter 2)
    _script_evaluations(monkeypatch, [4.0])
    outcome = _tiny_trainer(tmp_path, 3, save_interval=1, with_val=True,
                            resume=str(tmp_path)).train()
    assert (outcome.best_score, outcome.best_iter) == (3.0, 2)
    assert checkpoint.read_state(str(tmp_path / checkpoint.BEST_DIR))['iter'] == 2
    assert checkpoint.read_state(str(tmp_path / 'iter_3'))['best_iter'] == 2


def test_a_replacement_killed_between_its_renames_is_restored_on_start(tmp_path):
    trainer = _tiny_trainer(tmp_path, 2, save_interval=1, keep_checkpoint_max=0)
    trainer.train()
    # the state a kill between _replace_folder's two renames leaves: iter_2 and best_model
    # only exist as their backups, next to an unfinished new folder
    for name in ('iter_2', 'best_model'):
        if name == 'best_model':
            checkpoint.write_snapshot(str(tmp_path / name), trainer.model, None, {'iter': 2})
        os.rename(tmp_path / name, tmp_path / f'{name}.old.tmp-4242')
        (tmp_path / f'{name}.tmp-4242').mkdir()
    # a backup whose folder was already replaced is just deleted
    (tmp_path / 'iter_1.old.tmp-4242').mkdir()
    checkpoint.remove_partial_folders(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ['best_model', 'iter_1', 'iter_2', 'latest']
    assert checkpoint.latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2')
    assert checkpoint.read_state(str(tmp_path / 'iter_2'))['iter'] == 2
    assert checkpoint.read_state(str(tmp_path / 'best_model')) == {'iter': 2}
    resumed = _tiny_trainer(tmp_path, 3, resume=str(tmp_path)).train()
    assert resumed.iteration == 3


def test_a_stop_requested_by_another_process_stops_this_one_after_the_same_step(tmp_path,
                                                                               monkeypatch):
    """Two processes emulated: the other one got SIGTERM during step 3."""
    reduced = []

    def other_rank_stops_after_step_3(tensor, op=None, group=None, sync_op=True):
        assert op == paddle.distributed.ReduceOp.MAX
        reduced.append(int(tensor.numpy()[0]))
        # call 0 comes before the first step, call k right after step k
        if len(reduced) > 3:
            tensor.set_value(paddle.to_tensor([1], dtype=tensor.dtype))

    monkeypatch.setattr(trainer_module.dist, 'all_reduce', other_rank_stops_after_step_3)
    monkeypatch.setattr(trainer_module.paddle, 'DataParallel', lambda model: model)
    trainer = _tiny_trainer(tmp_path, 100, opts=['batch_size=2'])
    trainer.world_size = 2
    outcome = trainer.train()
    assert outcome.interrupted and outcome.iteration == 3
    assert reduced == [0, 0, 0, 0]  # this process itself never received a signal
    assert (tmp_path / 'latest').read_text().strip() == 'iter_3'


def test_a_single_process_does_not_communicate_to_stop(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError('all_reduce with one process')

    monkeypatch.setattr(trainer_module.dist, 'all_reduce', fail)
    assert trainer_module.agree_on_stop(True, 1) is True
    assert trainer_module.agree_on_stop(False, 1) is False


_WORKER_MARK = -1.0


def _mark_worker(worker_id):
    global _WORKER_MARK
    _WORKER_MARK = 100.0 + worker_id


class _WorkerStateSet:
    """Samples that report, from inside the loader worker, its SIGINT handling."""

    def __len__(self):
        return 2

    def __getitem__(self, index):
        ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        return {'img': np.array([float(ignored), _WORKER_MARK], np.float32)}


def test_loader_workers_ignore_sigint_and_still_run_the_given_init():
    # the loader forks a worker: run where no earlier test's threads exist
    run_in_fresh_process('test_engine_trainer', 'check_loader_workers_ignore_sigint')


def check_loader_workers_ignore_sigint() -> None:
    sampler = paddle.io.BatchSampler(_WorkerStateSet(), batch_size=2)
    batches = list(iterate_batches(_WorkerStateSet(), sampler, num_workers=1,
                                   worker_init_fn=_mark_worker))
    values = np.asarray(batches[0]['img'])
    np.testing.assert_array_equal(values, [[1.0, 100.0], [1.0, 100.0]])
    # the main process keeps its own handler
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN


def test_best_model_follows_the_configured_metric(tmp_path, monkeypatch):
    scores = iter([{'sad': 5.0, 'mse': 0.1}, {'sad': 3.0, 'mse': 0.2}])
    seen = []

    def scripted(runner, dataset, options):
        seen.append(list(options.metric_names))
        return EvalResult(metrics=next(scores))

    monkeypatch.setattr(trainer_module, 'evaluate', scripted)
    outcome = _tiny_trainer(tmp_path, 2, save_interval=1, with_val=True, best_metric='mse',
                            metric_names=['sad']).train()
    # mse is lower at iter 1 although sad is lower at iter 2; it is evaluated though not listed
    assert (outcome.best_score, outcome.best_iter) == (0.1, 1)
    assert seen[0] == ['sad', 'mse']
    assert checkpoint.read_state(str(tmp_path / checkpoint.BEST_DIR))['iter'] == 1

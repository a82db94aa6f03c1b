"""train.py as a process: 2-process launch equals 1 process, signals save a checkpoint."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

import core_plugin
from conftest import REPO_ROOT, TEST_DATA_DIR

ENTRY = os.path.join(REPO_ROOT, 'tests', 'core_train_entry.py')
TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')


def _train_args(save_dir, *extra):
    return ['--config', TINY_CONFIG, '--device', 'cpu', '--save_dir', str(save_dir),
            '--seed', '3', *extra]


def _load(path):
    return {k: v.numpy() for k, v in paddle.load(str(path)).items()}


def test_two_processes_of_batch_2_equal_one_process_of_batch_4(tmp_path):
    one = subprocess.run([sys.executable, ENTRY, *_train_args(
        tmp_path / 'one', '--iters', '1', '--batch_size', '4', '--save_interval', '1')],
        env=ENV, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node',
                          '2', '--log_dir', str(tmp_path / 'launch_log'), ENTRY, *_train_args(
                              tmp_path / 'two', '--iters', '1', '--batch_size', '2',
                              '--save_interval', '1')],
                         env=ENV, capture_output=True, text=True, timeout=300)
    logs = ''.join(open(os.path.join(tmp_path / 'launch_log', name)).read()
                   for name in sorted(os.listdir(tmp_path / 'launch_log'))
                   if name.startswith('workerlog'))
    assert two.returncode == 0, (two.stderr + logs)[-4000:]
    assert 'processes (nranks): 2' in logs
    # only rank 0 saves
    assert sorted(os.listdir(tmp_path / 'two')) == ['iter_1', 'latest']

    single = _load(tmp_path / 'one' / 'iter_1' / 'model.pdparams')
    parallel = _load(tmp_path / 'two' / 'iter_1' / 'model.pdparams')
    for key, value in single.items():
        np.testing.assert_allclose(parallel[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
    # the step really changed the weights (rules out comparing two untouched inits)
    paddle.seed(3)
    fresh = core_plugin.CoreTestNet().state_dict()
    assert any(not np.allclose(fresh[k].numpy(), single[k]) for k in single)


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_a_checkpoint_and_training_resumes_from_it(tmp_path, sig):
    log_path = tmp_path / 'train.log'
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([sys.executable, ENTRY, *_train_args(
            tmp_path, '--iters', '100000', '--log_iters', '1', '--save_interval', '1000000')],
            env=ENV, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while 'iter=3/' not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.time() < deadline, 'training did not reach iter 3 in time'
            time.sleep(0.2)
        proc.send_signal(sig)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log_path.read_text()
    assert code == 130, output[-3000:]
    assert 'Traceback' not in output
    latest = (tmp_path / 'latest').read_text().strip()
    stopped_at = json.loads((tmp_path / latest / 'state.json').read_text())['iter']
    assert latest == f'iter_{stopped_at}' and stopped_at >= 3
    assert [n for n in os.listdir(tmp_path) if '.tmp-' in n] == []

    resumed = subprocess.run([sys.executable, ENTRY, *_train_args(
        tmp_path, '--iters', str(stopped_at + 2), '--log_iters', '1', '--resume_model',
        str(tmp_path))], env=ENV, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f'iter={stopped_at + 1}/{stopped_at + 2}' in resumed.stderr
    assert (tmp_path / 'latest').read_text().strip() == f'iter_{stopped_at + 2}'

"""Training on two "nodes": two ``paddle.distributed.launch`` processes on this machine, joined
through ``--master 127.0.0.1:PORT --nnodes 2 --rank 0/1`` (gloo on CPU), as two machines
would be. The run must equal one process with the same global batch, only global rank 0 may
write, and a resumed two-node run must equal the uninterrupted one exactly."""
import os
import socket
import subprocess
import sys

import numpy as np
import paddle
import pytest

from conftest import REPO_ROOT, TEST_DATA_DIR

ENTRY = os.path.join(REPO_ROOT, 'tests', 'core_train_entry.py')
TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
# a launcher pair on a loaded 2-core machine takes ~20 s; the limit only stops a hang
TIMEOUT_S = 400

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _train_args(save_dir, *extra):
    return ['--config', TINY_CONFIG, '--device', 'cpu', '--save_dir', str(save_dir),
            '--seed', '3', '--save_interval', '1', '--log_iters', '1', *extra]


def _two_nodes(tmp_path, name, *train_args):
    """Start node 0 and node 1 (one process each) and wait for both; returns their logs."""
    port = _free_port()
    procs, logs = [], []
    for rank in (0, 1):
        log_dir = tmp_path / f'{name}_node{rank}'
        cmd = [sys.executable, '-m', 'paddle.distributed.launch', '--master',
               f'127.0.0.1:{port}', '--nnodes', '2', '--rank', str(rank),
               '--nproc_per_node', '1', '--log_dir', str(log_dir), ENTRY, *train_args]
        procs.append((subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True), log_dir))
    try:
        for proc, log_dir in procs:
            out, _ = proc.communicate(timeout=TIMEOUT_S)
            worker = ''.join(open(log_dir / f).read() for f in sorted(os.listdir(log_dir))
                             if f.startswith('workerlog'))
            logs.append(out + worker)
            assert proc.returncode == 0, (out + worker)[-4000:]
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
    return logs


def _load(path):
    return {k: v.numpy() for k, v in paddle.load(str(path)).items()}


def _assert_same(a, b, **tol):
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], err_msg=key, **tol)


def test_two_nodes_equal_one_process_with_the_same_global_batch(tmp_path):
    one = subprocess.run([sys.executable, ENTRY, *_train_args(
        tmp_path / 'one', '--iters', '2', '--batch_size', '4')],
        env=ENV, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert one.returncode == 0, one.stderr[-3000:]
    shared_dir = tmp_path / 'two'  # both "nodes" see it, as a shared filesystem would be
    logs = _two_nodes(tmp_path, 'run', *_train_args(shared_dir, '--iters', '2',
                                                     '--batch_size', '2'))
    assert 'processes (nranks): 2' in logs[0]
    # only global rank 0 logs the training progress and writes checkpoints
    assert 'iter=2/2' in logs[0] and 'iter=2/2' not in logs[1]
    assert sorted(os.listdir(shared_dir)) == ['iter_1', 'iter_2', 'latest']
    single = _load(tmp_path / 'one' / 'iter_2' / 'model.pdparams')
    _assert_same(single, _load(shared_dir / 'iter_2' / 'model.pdparams'), rtol=1e-5, atol=1e-6)
    first = _load(tmp_path / 'one' / 'iter_1' / 'model.pdparams')
    assert any(not np.allclose(first[k], single[k]) for k in single)  # the steps did something


def test_a_resumed_two_node_run_equals_the_uninterrupted_one(tmp_path):
    _two_nodes(tmp_path, 'full', *_train_args(tmp_path / 'full', '--iters', '3',
                                               '--batch_size', '2'))
    _two_nodes(tmp_path, 'first', *_train_args(tmp_path / 'part', '--iters', '1',
                                                '--batch_size', '2'))
    # every node resumes from the same (shared) checkpoint folder
    _two_nodes(tmp_path, 'rest', *_train_args(tmp_path / 'part', '--iters', '3',
                                               '--batch_size', '2', '--resume_model',
                                               str(tmp_path / 'part')))
    _assert_same(_load(tmp_path / 'full' / 'iter_3' / 'model.pdparams'),
                 _load(tmp_path / 'part' / 'iter_3' / 'model.pdparams'), rtol=0, atol=0)

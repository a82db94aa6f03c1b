"""Fault suite (``pytest -m faults``; part of the normal run): stops, kills and full disks
must never cost a checkpoint or leave a partial file under a final name."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, TEST_DATA_DIR

pytestmark = pytest.mark.faults

ENTRY = os.path.join(REPO_ROOT, 'tests', 'core_train_entry.py')
TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')


def _wait_for(path, text, proc, timeout=180):
    deadline = time.time() + timeout
    while True:
        content = path.read_text() if path.exists() else ''
        if text in content:
            return
        assert proc.poll() is None, content[-3000:]
        assert time.time() < deadline, f'{text!r} did not appear in time:\n{content[-3000:]}'
        time.sleep(0.2)


@pytest.mark.parametrize('num_workers', [0, 1])
def test_sigterm_to_the_launcher_leaves_a_final_checkpoint(tmp_path, num_workers):
    """The launcher answers SIGTERM with up to three SIGTERMs, 0.2 s apart, to the trainer's
    process group; slow samples (0.3 s each) make them all land within one step."""
    save_dir, log_dir = tmp_path / 'run', tmp_path / 'log'
    proc = subprocess.Popen(
        [sys.executable, '-m', 'paddle.distributed.launch', '--nproc_per_node', '1',
         '--log_dir', str(log_dir), ENTRY, '--config', TINY_CONFIG, '--device', 'cpu',
         '--save_dir', str(save_dir), '--seed', '3', '--iters', '1000', '--log_iters', '1',
         '--save_interval', '1000000', '--num_workers', str(num_workers),
         '--opts', 'train_dataset.delay=0.3'],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    worker_log = log_dir / 'workerlog.0'
    try:
        _wait_for(worker_log, 'iter=2/', proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = worker_log.read_text()
    assert 'Stopped by SIGTERM' in output, output[-3000:]
    assert 'Traceback' not in output and 'KeyboardInterrupt' not in output, output[-3000:]
    latest = (save_dir / 'latest').read_text().strip()
    stopped_at = json.loads((save_dir / latest / 'state.json').read_text())['iter']
    assert latest == f'iter_{stopped_at}' and stopped_at >= 2
    assert [n for n in os.listdir(save_dir) if '.tmp-' in n] == []

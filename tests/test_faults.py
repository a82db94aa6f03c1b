"""Fault suite (``pytest -m faults``; part of the normal run): stops, kills and full disks
must never cost a checkpoint or leave a partial file under a final name."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO_ROOT, TEST_DATA_DIR
from paddlematting.predict.input_collection import collect_inputs
from paddlematting.predict.images import predict_images
from paddlematting.predict.output_record import RECORD_NAME
from paddlematting.transforms import LoadImages, Normalize
from paddlematting.utils.image_io import read_alpha, write_png
from paddlematting.utils.weights_io import load_state_dict
from paddlematting.predict import PredictOptions

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


def _wait_or_exit(path, text, proc, timeout=180) -> bool:
    """True once ``text`` is in the log while ``proc`` still runs; False if it exited first."""
    deadline = time.time() + timeout
    while proc.poll() is None:
        if text in (path.read_text() if path.exists() else ''):
            return True
        assert time.time() < deadline, f'{text!r} did not appear in time'
        time.sleep(0.05)
    return False


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


def _train(save_dir, *extra, timeout=300):
    return subprocess.run([sys.executable, ENTRY, '--config', TINY_CONFIG, '--device', 'cpu',
                           '--save_dir', str(save_dir), '--seed', '3', *extra],
                          env=ENV, capture_output=True, text=True, timeout=timeout)


def _weights(path):
    return load_state_dict(str(path))


def test_kill_9_during_checkpoint_writes_then_resume_is_bit_exact(tmp_path):
    # enough steps that a busy machine still kills mid-run (every step saves a checkpoint)
    iters = '24'
    reference = _train(tmp_path / 'ref', '--iters', iters, '--save_interval', '1')
    assert reference.returncode == 0, reference.stderr[-3000:]
    save_dir = tmp_path / 'killed'
    log_path = tmp_path / 'killed.log'
    rng = np.random.default_rng(0)
    kills = 0
    for round_ in range(2):
        resume = ['--resume_model', str(save_dir)] if (save_dir / 'latest').exists() else []
        with open(log_path, 'w') as log:
            proc = subprocess.Popen([sys.executable, ENTRY, '--config', TINY_CONFIG, '--device',
                                     'cpu', '--save_dir', str(save_dir), '--seed', '3',
                                     '--iters', iters, '--save_interval', '1', *resume],
                                    env=ENV, stdout=log, stderr=subprocess.STDOUT)
        try:
            # every step saves, so most of the time goes into writing checkpoints
            if not _wait_or_exit(log_path, 'Saved checkpoint', proc):
                break  # the run finished before a kill could land: nothing left to interrupt
            time.sleep(float(rng.uniform(0.0, 0.05)))
            proc.kill()
            proc.wait(timeout=30)
            kills += proc.returncode == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
    assert kills >= 1, 'no run was killed mid-training'
    resumed = _train(save_dir, '--iters', iters, '--save_interval', '1', '--resume_model',
                     str(save_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected = _weights(tmp_path / 'ref' / f'iter_{iters}' / 'model.pdparams')
    got = _weights(save_dir / f'iter_{iters}' / 'model.pdparams')
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def _children(pid):
    """The pids of ``pid``'s child processes (forked from any of its threads)."""
    found = set()
    for task in os.listdir(f'/proc/{pid}/task'):
        try:
            found.update(int(c) for c in open(f'/proc/{pid}/task/{task}/children').read().split())
        except OSError:  # the thread ended meanwhile
            continue
    return found


def _running(pid):
    """Whether ``pid`` exists and is not a zombie (its state follows the ')' of its name)."""
    try:
        return open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):  # gone (or reaped) between the two reads
        return False


def test_trainer_killed_with_9_takes_its_dataloader_workers_along(tmp_path):
    """The kernel kills the workers (``worker_guard.die_with_parent``), not a watchdog in them:
    they are stopped (SIGSTOP) before the trainer is killed, so no code of theirs can run,
    and still end. One epoch spans the whole run (4000 samples), so the workers seen are the
    ones killed, not those of an epoch that ended by itself."""
    log_path = tmp_path / 'train.log'
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([sys.executable, ENTRY, '--config', TINY_CONFIG, '--device', 'cpu',
                                 '--save_dir', str(tmp_path / 'run'), '--iters', '1000',
                                 '--log_iters', '1', '--num_workers', '2', '--save_interval',
                                 '1000000', '--opts', 'train_dataset.delay=0.05',
                                 'train_dataset.num_samples=4000'],
                                env=ENV, stdout=log, stderr=subprocess.STDOUT)
    workers = set()
    try:
        _wait_for(log_path, 'iter=2/', proc)
        deadline = time.time() + 180
        while len(workers) < 2:  # both workers of the (only) epoch
            assert proc.poll() is None and time.time() < deadline, log_path.read_text()[-3000:]
            workers = {pid for pid in _children(proc.pid) if _running(pid)}
            time.sleep(0.2)
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        proc.kill()
        proc.wait(timeout=60)
        # generous: under load the kernel may take a while to get to them
        deadline = time.time() + 120
        alive = workers
        while alive and time.time() < deadline:
            alive = [pid for pid in workers if _running(pid)]
            time.sleep(0.2)
        assert not alive, f'orphaned DataLoader workers still running: {alive}'
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MiB tmpfs (we run as root in CI); skipped with the reason where mounting fails."""
    mount_point = tmp_path / 'tmpfs'
    mount_point.mkdir()
    done = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f'cannot mount a tmpfs here to fill a disk ({done.stderr.strip()})')
    try:
        yield mount_point
    finally:
        subprocess.run(['umount', '-l', str(mount_point)], capture_output=True)


def _fill(folder, leave_bytes):
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with open(os.path.join(folder, 'ballast'), 'wb') as f:
        f.write(b'\0' * max(0, free - leave_bytes))


def test_a_full_disk_keeps_old_checkpoints_and_leaves_nothing_partial(tmp_path, small_tmpfs):
    probe = _train(tmp_path / 'probe', '--iters', '1', '--save_interval', '1')
    assert probe.returncode == 0, probe.stderr[-3000:]
    one = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in
              os.walk(tmp_path / 'probe' / 'iter_1') for f in files)
    save_dir = small_tmpfs / 'run'
    save_dir.mkdir()
    # room for the first checkpoint (and the small latest file), not for a second one
    _fill(str(small_tmpfs), leave_bytes=int(one * 1.5) + 12 * 4096)
    done = _train(save_dir, '--iters', '6', '--save_interval', '1', '--keep_checkpoint_max', '0')
    assert done.returncode == 2, done.stderr[-3000:]
    assert 'disk is full' in done.stderr and str(save_dir) in done.stderr
    assert 'Traceback' not in done.stderr
    checkpoints = sorted(n for n in os.listdir(save_dir) if n.startswith('iter_'))
    assert checkpoints, 'the first checkpoint fitted and must be kept'
    for name in checkpoints:  # every checkpoint under a final name is complete
        _weights(save_dir / name / 'model.pdparams')
        _weights(save_dir / name / 'model.pdopt')
        json.loads((save_dir / name / 'state.json').read_text())
    assert (save_dir / 'latest').read_text().strip() in checkpoints
    assert [n for n in os.listdir(save_dir) if '.tmp-' in n] == []


def test_a_full_disk_leaves_no_partial_png_under_a_final_name(tmp_path, small_tmpfs):
    rng = np.random.default_rng(0)
    for i in range(6):
        write_png(str(tmp_path / 'in' / f'p{i}.png'), rng.integers(0, 255, (96, 96, 3), np.uint8))
    _fill(str(small_tmpfs), leave_bytes=64 * 1024)

    def noisy(img, trimap):  # incompressible mattes fill the disk quickly
        return rng.random((img.shape[0], 1) + img.shape[2:]).astype('float32')

    out = small_tmpfs / 'out'
    result = predict_images(noisy, [LoadImages(), Normalize()],
                            collect_inputs(str(tmp_path / 'in')), str(out),
                            PredictOptions(show_progress=False))
    assert result.failed, 'the disk should have filled up'
    assert all('disk is full' in reason for _, reason in result.failed)
    # the record of outputs is appended line by line (a torn last line is skipped on reading)
    for name in set(os.listdir(out)) - {RECORD_NAME}:
        assert not name.startswith('.'), f'temporary file left: {name}'
        read_alpha(str(out / name))  # decodes completely

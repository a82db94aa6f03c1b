"""Outputs: atomic files with normal permissions, a full disk named, one run per --save_dir."""
import errno
import os
import stat

import numpy as np
import pytest

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting.cli import predict as predict_cli
from paddlematting.utils.image_io import write_png
from paddlematting.predict.output_record import RECORD_NAME
from paddlematting.utils.output_files import (DiskFullError, OutputDirLock, OutputDirLockedError,
                                              atomic_write)

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'a.txt'
    path.write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_write(str(path), 'w') as f:
            f.write('half')
            raise RuntimeError('interrupted')
    assert path.read_text() == 'old' and os.listdir(tmp_path) == ['a.txt']


def test_enospc_is_reported_as_a_full_disk_naming_the_path(tmp_path, monkeypatch):
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, 'No space left on device')

        def flush(self):
            pass

    monkeypatch.setattr(os, 'fdopen', lambda fd, *a, **k: FullDisk(real_fdopen(fd, *a, **k)))
    target = tmp_path / 'x_alpha.png'
    with pytest.raises(DiskFullError, match=r'x_alpha.png: could not be written because the disk is full'):
        write_png(str(target), np.zeros((4, 4), np.uint8))
    assert os.listdir(tmp_path) == []


def test_written_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_png(str(tmp_path / 'a.png'), np.zeros((4, 4), np.uint8))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / 'a.png').st_mode) == 0o644


def test_a_second_run_into_the_same_save_dir_is_refused(tmp_path, records):
    write_png(str(tmp_path / 'in.png'), np.full((16, 16, 3), 90, np.uint8))
    out = tmp_path / 'out'
    argv = ['--config', TINY_CONFIG, '--device', 'cpu', '--backend', 'dygraph',
            '--allow_random_weights', '--image_path', str(tmp_path / 'in.png'), '--save_dir',
            str(out)]
    with OutputDirLock(str(out)):  # as another process running into it would hold it
        assert predict_cli.main(argv) == 2
        assert any('in use by another paddlematting run' in m for m in records)
        with pytest.raises(OutputDirLockedError):
            OutputDirLock(str(out)).__enter__()
    assert not os.path.exists(out / 'in_alpha.png')
    assert predict_cli.main(argv) == 0  # the lock is gone with its holder
    # no lock file left (the record of outputs stays: see predict.output_record)
    assert sorted(os.listdir(out)) == [RECORD_NAME, 'in_alpha.png', 'in_rgba.png']

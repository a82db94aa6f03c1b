"""Export never deletes what it did not write; exported folders are readable by others;
every command checks --save_dir before doing any work."""
import os
import stat
import subprocess
import sys

import paddle
import pytest

from conftest import REPO_ROOT
from paddlematting.inference import ExportOptions, export_model, load_deploy_config
from paddlematting.inference.export_folder import EXPORT_MARKER
from paddlematting.utils.output_files import OutputDirError

TRANSFORMS = [{'type': 'Normalize'}]


def _toy():
    paddle.seed(0)
    model = paddle.nn.Sequential(paddle.nn.Conv2D(3, 1, 3, padding=1), paddle.nn.Sigmoid())
    model.forward = lambda inputs, m=model: paddle.nn.Sequential.forward(m, inputs['img'])
    return model


def _export(folder, transforms=TRANSFORMS):
    return export_model(_toy(), str(folder), transforms, ExportOptions(model_type='MODNet'))


def test_a_user_folder_holding_deploy_yaml_is_not_deleted(tmp_path):
    target = tmp_path / 'mine'
    target.mkdir()
    (target / 'deploy.yaml').write_text('my own notes')
    (target / 'thesis.tex').write_text('years of work')
    with pytest.raises(FileExistsError, match='not an export folder written by paddlematting'):
        _export(target)
    assert (target / 'thesis.tex').read_text() == 'years of work'
    assert (target / 'deploy.yaml').read_text() == 'my own notes'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['mine']


def test_reexport_replaces_only_our_files_and_keeps_the_users(tmp_path):
    target = tmp_path / 'export'
    _export(target)
    ours = set(os.listdir(target))
    assert EXPORT_MARKER in ours and 'deploy.yaml' in ours
    (target / 'README.txt').write_text('added by the user')
    (target / 'model.onnx').write_text('stale file of a previous export?')  # not in the marker
    _export(target, [{'type': 'Normalize'}, {'type': 'ResizeToIntMult', 'mult_int': 32}])
    assert (target / 'README.txt').read_text() == 'added by the user'
    assert (target / 'model.onnx').read_text().startswith('stale')  # not ours: kept
    assert len(load_deploy_config(str(target)).transforms) == 2
    assert set(os.listdir(target)) == ours | {'README.txt', 'model.onnx'}
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.')]  # no staging left


def test_an_export_of_only_our_files_is_swapped_whole(tmp_path):
    target = tmp_path / 'export'
    _export(target)
    _export(target, [{'type': 'Normalize'}, {'type': 'ResizeToIntMult', 'mult_int': 32}])
    assert len(load_deploy_config(str(target)).transforms) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ['export']


@pytest.mark.parametrize('umask, dir_mode, file_mode', [(0o022, 0o755, 0o644),
                                                         (0o027, 0o750, 0o640)])
def test_exported_folders_get_normal_permissions(tmp_path, umask, dir_mode, file_mode):
    old = os.umask(umask)
    try:
        target = tmp_path / 'export'
        _export(target)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(target).st_mode) == dir_mode
    for name in os.listdir(target):
        assert stat.S_IMODE(os.stat(target / name).st_mode) == file_mode, name


@pytest.mark.parametrize('script, extra', [
    ('train.py', []), ('val.py', []), ('predict.py', ['--image_path', 'x.png']),
    ('export.py', []),
    (os.path.join('deploy', 'python', 'infer.py'), ['--model_dir', 'm', '--image_path', 'x.png']),
])
def test_every_command_refuses_a_file_as_save_dir_before_any_work(tmp_path, script, extra):
    """The config does not exist either: the save_dir message proves it was checked first."""
    occupied = tmp_path / 'results'
    occupied.write_text('a file')
    args = [] if 'infer' in script else ['--config', str(tmp_path / 'no_such.yml')]
    done = subprocess.run([sys.executable, os.path.join(REPO_ROOT, script), *args, *extra,
                           '--save_dir', str(occupied)], capture_output=True, text=True,
                          cwd=str(tmp_path), timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f'--save_dir {occupied} is a file' in done.stderr
    assert 'no_such.yml' not in done.stderr and 'Traceback' not in done.stderr


def test_export_refuses_a_foreign_save_dir_before_tracing(tmp_path, monkeypatch):
    from paddlematting.cli import export as export_cli
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(FileExistsError, match='notes|not an export folder'):
        export_cli.run(['--config', str(tmp_path / 'no_such.yml'), '--save_dir', str(tmp_path)])


def test_save_dir_under_a_file_or_read_only_is_refused(tmp_path):
    from paddlematting.utils.output_files import check_output_dir
    (tmp_path / 'f').write_text('x')
    with pytest.raises(OutputDirError, match='lies under the file'):
        check_output_dir(str(tmp_path / 'f' / 'sub'))
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / 'ro'
        ro.mkdir(mode=0o555)
        with pytest.raises(OutputDirError, match='not writable'):
            check_output_dir(str(ro / 'out'))

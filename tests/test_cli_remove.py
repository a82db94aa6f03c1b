"""``paddlematting remove``: files, folders, lists and stdin/stdout; existing outputs skipped
(a run killed with SIGKILL resumes, writing only what is missing); bad input one line, exit 2,
nothing written under a final name; the ``paddlematting`` command's subcommands."""
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from paddlematting.cli import main as main_cli
from paddlematting.cli import remove as remove_cli
from paddlematting.utils.image_io import read_alpha

from conftest import REAL_DATA_ROOT, REPO_ROOT

NAMES = ('GT05', 'GT11', 'GT14', 'GT19', 'GT20', 'GT24')


def _photos(folder, masks, count, size=(200, 140)):
    """``count`` photos (the shipped ones resized, cycled) and their hard masks, same names."""
    os.makedirs(folder, exist_ok=True)
    os.makedirs(masks, exist_ok=True)
    names = []
    for i in range(count):
        source = NAMES[i % len(NAMES)]
        photo = cv2.resize(cv2.imread(os.path.join(REAL_DATA_ROOT, 'val', 'fg', f'{source}.png')), size)
        alpha = cv2.resize(cv2.imread(os.path.join(REAL_DATA_ROOT, 'val', 'alpha', f'{source}.png'), 0), size)
        name = f'p{i:02d}'
        cv2.imwrite(os.path.join(folder, name + '.png'), photo)
        cv2.imwrite(os.path.join(masks, name + '.png'), np.where(alpha > 127, 255, 0).astype(np.uint8))
        names.append(name)
    return names


def _command(*args):
    return [sys.executable, '-m', 'paddlematting.cli.main', 'remove', *args]


def _stamps(folder):
    return {n: (os.stat(os.path.join(folder, n)).st_ino, os.stat(os.path.join(folder, n)).st_mtime_ns)
            for n in sorted(os.listdir(folder)) if n.endswith('.png') and not n.startswith('.')}


def test_folder_with_masks_then_rerun_skips_and_overwrite_rewrites(tmp_path, records):
    names = _photos(str(tmp_path / 'in'), str(tmp_path / 'masks'), 3)
    args = [str(tmp_path / 'in'), str(tmp_path / 'out'), '--refiner', 'closed-form', '--mask',
            str(tmp_path / 'masks')]
    assert remove_cli.main(args) == 0
    first = _stamps(tmp_path / 'out')
    assert sorted(first) == [n + '.png' for n in names]
    rgba = cv2.imread(str(tmp_path / 'out' / 'p00.png'), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (140, 200, 4)
    assert remove_cli.main(args) == 0
    assert _stamps(tmp_path / 'out') == first
    assert any('skipped 3 that existed' in m for m in records)
    assert remove_cli.main(args + ['--overwrite', '--only-mask']) == 0
    again = _stamps(tmp_path / 'out')
    assert all(again[n][0] != first[n][0] for n in first)  # renamed into place: new files
    assert cv2.imread(str(tmp_path / 'out' / 'p00.png'), cv2.IMREAD_UNCHANGED).ndim == 2


@pytest.mark.faults
def test_killed_run_resumes_writing_only_what_is_missing(tmp_path):
    count = 16
    _photos(str(tmp_path / 'in'), str(tmp_path / 'masks'), count, size=(400, 280))
    out = tmp_path / 'out'
    command = _command(str(tmp_path / 'in'), str(out), '--refiner', 'closed-form', '--mask',
                       str(tmp_path / 'masks'))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    run = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.poll() is None:
        if out.is_dir() and len(_stamps(out)) >= 2:
            break
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    before = _stamps(out)
    assert 2 <= len(before) < count, 'the run must be killed halfway'
    for name in before:  # whatever has its final name is complete
        assert cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED).shape == (280, 400, 4)
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    after = _stamps(out)
    assert len(after) == count
    assert {n: after[n] for n in before} == before  # finished outputs untouched
    assert f'Wrote {count - len(before)} cut-out(s), skipped {len(before)} that existed' in done.stderr


def test_file_list_and_stdin_stdout(tmp_path):
    _photos(str(tmp_path / 'in'), str(tmp_path / 'masks'), 2)
    photo, mask = str(tmp_path / 'in' / 'p00.png'), str(tmp_path / 'masks' / 'p00.png')
    assert remove_cli.main([photo, str(tmp_path / 'one.png'), '--refiner', 'closed-form', '--mask',
                            mask, '--bgcolor', '#00b140']) == 0
    assert cv2.imread(str(tmp_path / 'one.png'), cv2.IMREAD_UNCHANGED).shape == (140, 200, 3)
    os.makedirs(tmp_path / 'into')
    assert remove_cli.main([photo, str(tmp_path / 'into'), '--refiner', 'closed-form', '--mask', mask]) == 0
    assert os.listdir(tmp_path / 'into') == ['p00.png']
    listing = tmp_path / 'list.txt'
    listing.write_text('in/p00.png\nin/p01.png\n')
    masks = tmp_path / 'masks.txt'
    masks.write_text('masks/p00.png\nmasks/p01.png\n')
    assert remove_cli.main([str(listing), str(tmp_path / 'listed'), '--refiner', 'closed-form',
                            '--mask', str(masks)]) == 0
    assert sorted(os.listdir(tmp_path / 'listed' / 'in')) == ['p00.png', 'p01.png']
    with open(photo, 'rb') as stdin:
        piped = subprocess.run(_command('-', '-', '--refiner', 'closed-form', '--mask', mask),
                               stdin=stdin, capture_output=True, timeout=300, cwd=REPO_ROOT)
    assert piped.returncode == 0, piped.stderr
    decoded = cv2.imdecode(np.frombuffer(piped.stdout, np.uint8), cv2.IMREAD_UNCHANGED)
    file_result = cv2.imread(str(tmp_path / 'into' / 'p00.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded, file_result)


@pytest.mark.parametrize('extra, expected', [
    (['--model', 'modnet-mobilenet'], 'did you mean modnet-mobilenetv2'),
    (['--model', 'dim-vgg16'], 'dim-vgg16 needs a trimap: pass mask= or trimap= (--mask / --trimap)'),
    (['--model', 'modnet-mobilenetv2', '--trimap', 'TRIMAP'], 'modnet-mobilenetv2 is a segmenter'),
    (['--refiner', 'closed-form', '--trimap', 'SMALL'], 'trimap is 20x10 but the image is 200x140'),
    (['--refiner', 'closed-form', '--mask', 'MASK', '--bgcolor', 'green'], 'is neither an existing'),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, records, extra, expected, monkeypatch):
    monkeypatch.setenv('PADDLEMATTING_HOME', str(tmp_path / 'home'))
    _photos(str(tmp_path / 'in'), str(tmp_path / 'masks'), 1)
    cv2.imwrite(str(tmp_path / 'small.png'), np.zeros((10, 20), np.uint8))
    cv2.imwrite(str(tmp_path / 'trimap.png'), np.full((140, 200), 128, np.uint8))
    replace = {'SMALL': str(tmp_path / 'small.png'), 'TRIMAP': str(tmp_path / 'trimap.png'),
               'MASK': str(tmp_path / 'masks' / 'p00.png')}
    extra = [replace.get(a, a) for a in extra]
    out = tmp_path / 'out' / 'cut.png'
    assert remove_cli.main([str(tmp_path / 'in' / 'p00.png'), str(out), *extra]) == 2
    errors = [m for m in records if expected in m]
    assert len(errors) == 1 and '\n' not in errors[0]
    assert not out.exists()


def test_unreadable_images_and_outputs_over_inputs(tmp_path, records):
    _photos(str(tmp_path / 'in'), str(tmp_path / 'masks'), 2)
    (tmp_path / 'bad.png').write_bytes(b'\x89PNG not really')
    args = ['--refiner', 'closed-form', '--mask', str(tmp_path / 'masks' / 'p00.png')]
    assert remove_cli.main([str(tmp_path / 'bad.png'), str(tmp_path / 'bad_out.png'), *args]) == 2
    assert not (tmp_path / 'bad_out.png').exists()
    assert any('bad.png' in m for m in records)
    # a folder where one photo is unreadable: the others are written, exit 1
    (tmp_path / 'in' / 'zz.png').write_bytes(b'garbage')
    code = remove_cli.main([str(tmp_path / 'in'), str(tmp_path / 'out'), '--refiner', 'closed-form',
                            '--mask', str(tmp_path / 'masks')])
    assert code == 1 and sorted(os.listdir(tmp_path / 'out')) == ['p00.png', 'p01.png']
    os.remove(tmp_path / 'masks' / 'p01.png')  # a photo without its mask fails, never segmented
    code = remove_cli.main([str(tmp_path / 'in'), str(tmp_path / 'out2'), '--refiner', 'closed-form',
                            '--mask', str(tmp_path / 'masks')])
    assert code == 1 and sorted(os.listdir(tmp_path / 'out2')) == ['p00.png']
    assert any('has no map named p01' in m for m in records)
    photos_before = _stamps(tmp_path / 'in')
    code = remove_cli.main([str(tmp_path / 'in'), str(tmp_path / 'in'), '--refiner', 'closed-form',
                            '--mask', str(tmp_path / 'masks')])
    assert code == 2 and _stamps(tmp_path / 'in') == photos_before
    assert any('is an input: its cut-out would replace it' in m for m in records)
    assert remove_cli.main([str(tmp_path / 'in' / 'p00.png'), str(tmp_path / 'x.jpg'), *args]) == 2


def test_the_paddlematting_command(capsys):
    assert main_cli.main(['--help']) == 0
    assert set(main_cli.SUBCOMMANDS) >= {'remove', 'models', 'cache'}
    listed = capsys.readouterr().out
    assert all(name in listed for name in main_cli.SUBCOMMANDS)
    assert main_cli.main(['remov']) == 2
    assert 'did you mean remove?' in capsys.readouterr().err
    assert main_cli.main([]) == 2
    assert main_cli.main(['models', '--task', 'video']) == 0
    assert 'rvm-mobilenetv3' in capsys.readouterr().out

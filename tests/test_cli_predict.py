"""predict.py's exit codes: 2 when the inputs cannot be collected, 1 when some images fail."""
import os

import numpy as np

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting.cli import predict as predict_cli
from paddlematting.utils.image_io import write_png

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


def _predict(tmp_path, *args):
    return predict_cli.main(['--config', TINY_CONFIG, '--device', 'cpu', '--backend', 'dygraph',
                             '--save_dir', str(tmp_path / 'out'), *args])


def test_a_missing_image_path_exits_2_with_one_line(tmp_path, records):
    missing = str(tmp_path / 'nowhere')
    assert _predict(tmp_path, '--image_path', missing) == predict_cli.EXIT_BAD_INPUTS == 2
    errors = [m for m in records if missing in m]
    assert len(errors) == 1 and 'does not exist' in errors[0]
    assert not os.path.exists(tmp_path / 'out')


def test_a_trimap_count_mismatch_exits_2(tmp_path, records):
    for name in ('x.png', 'y.png'):
        write_png(str(tmp_path / name), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / 'images.txt').write_text('x.png\ny.png\n')
    (tmp_path / 'trimaps.txt').write_text('x.png\n')
    code = _predict(tmp_path, '--image_path', str(tmp_path / 'images.txt'), '--trimap_path',
                    str(tmp_path / 'trimaps.txt'))
    assert code == 2
    assert any('1 trimaps for 2 images' in m for m in records)


def test_an_unreadable_image_exits_1_and_the_others_are_written(tmp_path):
    write_png(str(tmp_path / 'in' / 'good.png'), np.full((16, 16, 3), 50, np.uint8))
    (tmp_path / 'in' / 'bad.png').write_bytes(b'not an image')
    assert _predict(tmp_path, '--image_path', str(tmp_path / 'in')) == 1
    assert os.path.isfile(tmp_path / 'out' / 'good_alpha.png')

"""Outputs never overwrite an input and never become inputs of the next run (issue 20, item 3):
predicting into the image folder leaves every input byte-identical, and a rerun predicts the
same inputs again, not the first run's outputs."""
import hashlib
import os

import numpy as np
import pytest

import core_plugin  # noqa: F401  (registers CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting.cli import predict as predict_cli
from paddlematting.pipeline.outputs import OutputOptions
from paddlematting.predict.input_collection import collect_inputs, keep_outputs_apart
from paddlematting.predict.output_record import RECORD_NAME
from paddlematting.utils.image_io import read_alpha, write_png

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
# inputs named like the outputs of x.png, and a trimap-like name
INPUT_NAMES = ('x.png', 'x_alpha.png', 'x_rgba.png', 'y.jpg_alpha.png', 'y.jpg', 'y.png')


def _digests(folder):
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            for name in INPUT_NAMES}


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / 'photos'
    for index, name in enumerate(INPUT_NAMES):
        write_png(str(folder / name), np.full((12, 14, 3), 20 * index + 10, np.uint8))
    return folder


def _predict(folder, save_dir, records, *extra):
    records.clear()
    code = predict_cli.main(['--config', TINY_CONFIG, '--device', 'cpu', '--backend', 'dygraph',
                             '--allow_random_weights', '--image_path', str(folder),
                             '--save_dir', str(save_dir), *extra])
    counted = [m for m in records if m.startswith('Predicting ')]
    return code, int(counted[0].split()[1]) if counted else None


def _outputs(folder):
    return sorted(n for n in os.listdir(folder) if n not in INPUT_NAMES)


def test_predicting_into_the_image_folder_keeps_inputs_and_reruns_alike(photos, records):
    before = _digests(photos)
    code, predicted = _predict(photos, photos, records)
    assert code == 0 and predicted == len(INPUT_NAMES)
    assert _digests(photos) == before  # every input byte-identical
    renamed = [m for m in records if 'named apart' in m]
    assert len(renamed) == 1 and 'x -> x-2, y.jpg -> y.jpg-2' in renamed[0], renamed
    first = _outputs(photos)
    # each input has its own matte and cut-out; x.png's went to x-2_*, y.jpg's (whose matte
    # would be the input y.jpg_alpha.png) to y.jpg-2_*
    for name in ('x-2', 'x_alpha', 'x_rgba', 'y.jpg_alpha', 'y.jpg-2', 'y.png'):
        assert f'{name}_alpha.png' in first and f'{name}_rgba.png' in first, name
        assert read_alpha(str(photos / f'{name}_alpha.png')).shape == (12, 14)
    assert RECORD_NAME in first

    # the rerun takes the same six inputs (not the first run's 12 outputs) and rewrites the
    # same outputs: no x-2_alpha_alpha.png and the like
    code, predicted = _predict(photos, photos, records)
    assert code == 0 and predicted == len(INPUT_NAMES)
    assert any('leaving out 12 files that earlier predictions wrote' in m for m in records)
    assert _digests(photos) == before
    assert _outputs(photos) == first


def test_an_output_the_user_replaced_is_an_input_again(photos, records):
    _predict(photos, photos, records)
    write_png(str(photos / 'x-2_alpha.png'), np.full((12, 14, 3), 200, np.uint8))  # edited
    code, predicted = _predict(photos, photos, records)
    assert code == 0 and predicted == len(INPUT_NAMES) + 1
    assert os.path.isfile(photos / 'x-2_alpha_alpha.png')


def test_paddleseg_names_into_the_image_folder_are_named_apart(photos, records):
    before = _digests(photos)
    code, predicted = _predict(photos, photos, records, '--save_names', 'paddleseg')
    assert code == 0 and predicted == len(INPUT_NAMES)
    assert _digests(photos) == before
    # x.png's matte would be x.png itself, x_alpha.png's would be x_alpha.png
    assert os.path.isfile(photos / 'x-2.png') and os.path.isfile(photos / 'x_alpha-2.png')


def test_a_save_dir_inside_the_image_folder_is_not_searched_next_time(photos, records):
    assert _predict(photos, photos / 'out', records)[1] == len(INPUT_NAMES)
    assert _predict(photos, photos / 'out', records)[1] == len(INPUT_NAMES)
    # x.png's outputs did not collide with anything in out/: no renaming there
    assert os.path.isfile(photos / 'out' / 'x_alpha.png')
    # searching the earlier save_dir itself (below or at it) finds no input at all
    assert _predict(photos / 'out', photos / 'again', records)[0] == 2


def test_trimaps_and_the_background_file_are_inputs_too(tmp_path):
    folder = tmp_path / 'in'
    write_png(str(folder / 'a.png'), np.zeros((4, 4, 3), np.uint8))
    write_png(str(tmp_path / 'trimaps' / 'a.png'), np.zeros((4, 4), np.uint8))
    background = folder / 'a_composite.png'
    write_png(str(background), np.zeros((4, 4, 3), np.uint8))
    images = [i for i in collect_inputs(str(folder), str(tmp_path / 'trimaps'))
              if i.rel_name == 'a']
    options = OutputOptions(background=np.zeros((4, 4, 3), np.uint8))
    # the composite of a.png would replace the background file
    assert keep_outputs_apart(images, str(folder), options, [str(background)]) == [('a', 'a-2')]
    # the trimap folder as save_dir: a's matte under paddleseg names would be the trimap
    images = collect_inputs(str(folder / 'a.png'), str(tmp_path / 'trimaps' / 'a.png'))
    paddleseg = OutputOptions(save_names='paddleseg')
    assert keep_outputs_apart(images, str(tmp_path / 'trimaps'), paddleseg) == [('a', 'a-2')]
    # elsewhere nothing is renamed
    assert keep_outputs_apart(images, str(tmp_path / 'out'), paddleseg) == []

"""Predictor: finding inputs and trimaps, trimap-aware outputs, failures reported not raised."""
import os

import numpy as np
import pytest

from paddlematting.core.predictor import collect_inputs, predict_images
from paddlematting.transforms import LoadImages, Normalize, ResizeByShort, ResizeToIntMult
from paddlematting.utils.image_io import read_alpha, write_png

VAL_TRANSFORMS = [LoadImages(), ResizeByShort(32), ResizeToIntMult(32), Normalize()]


def _image(h, w, value=100):
    return np.full((h, w, 3), value, np.uint8)


def _half_runner(img, trimap):
    return np.full((img.shape[0], 1) + img.shape[2:], 0.5, np.float32)


def test_folders_are_searched_recursively_and_trimaps_matched_by_name(tmp_path):
    write_png(str(tmp_path / 'img' / 'b.png'), _image(8, 8))
    write_png(str(tmp_path / 'img' / 'sub' / 'a.png'), _image(8, 8))
    (tmp_path / 'img' / 'notes.txt').write_text('not an image')
    write_png(str(tmp_path / 'tri' / 'sub' / 'a.png'), np.zeros((8, 8), np.uint8))
    inputs = collect_inputs(str(tmp_path / 'img'), str(tmp_path / 'tri'))
    assert [i.rel_name for i in inputs] == ['b', 'sub/a']
    assert inputs[0].trimap_path is None
    assert inputs[1].trimap_path == str(tmp_path / 'tri' / 'sub' / 'a.png')


def test_list_files_pair_images_and_trimaps_in_order(tmp_path):
    for name in ('x.png', 'y.png'):
        write_png(str(tmp_path / name), _image(8, 8))
    (tmp_path / 'images.txt').write_text('x.png\ny.png\n')
    (tmp_path / 'trimaps.txt').write_text('y.png\nx.png\n')
    inputs = collect_inputs(str(tmp_path / 'images.txt'), str(tmp_path / 'trimaps.txt'))
    assert [(i.rel_name, os.path.basename(i.trimap_path)) for i in inputs] == [
        ('x', 'y.png'), ('y', 'x.png')]
    (tmp_path / 'one.txt').write_text('x.png\n')
    with pytest.raises(ValueError, match='1 trimaps for 2 images'):
        collect_inputs(str(tmp_path / 'images.txt'), str(tmp_path / 'one.txt'))
    with pytest.raises(FileNotFoundError, match='--image_path'):
        collect_inputs(str(tmp_path / 'missing'))


def test_outputs_follow_the_trimap_and_keep_the_input_size(tmp_path):
    write_png(str(tmp_path / 'in' / 'p.png'), _image(50, 70))
    trimap = np.full((50, 70), 128, np.uint8)
    trimap[:10] = 0
    trimap[-10:] = 255
    write_png(str(tmp_path / 'tri' / 'p.png'), trimap)
    result = predict_images(_half_runner, VAL_TRANSFORMS,
                            collect_inputs(str(tmp_path / 'in'), str(tmp_path / 'tri')),
                            str(tmp_path / 'out'), show_progress=False)
    assert result.failed == []
    alpha = read_alpha(str(tmp_path / 'out' / 'p_alpha.png'))
    assert alpha.shape == (50, 70)
    assert np.all(alpha[:10] == 0) and np.all(alpha[-10:] == 255)
    assert np.all(alpha[10:-10] == 128)


def test_a_trimap_model_reports_images_without_trimap_and_goes_on(tmp_path):
    write_png(str(tmp_path / 'in' / 'has.png'), _image(40, 40))
    write_png(str(tmp_path / 'in' / 'lacks.png'), _image(40, 40))
    write_png(str(tmp_path / 'tri' / 'has.png'), np.full((40, 40), 128, np.uint8))
    result = predict_images(_half_runner, VAL_TRANSFORMS,
                            collect_inputs(str(tmp_path / 'in'), str(tmp_path / 'tri')),
                            str(tmp_path / 'out'), needs_trimap=True, show_progress=False)
    assert result.written == [str(tmp_path / 'out' / 'has_alpha.png')]
    assert len(result.failed) == 1 and result.failed[0][0].endswith('lacks.png')
    assert 'no trimap' in result.failed[0][1]


def test_images_sharing_a_stem_keep_their_extension_and_write_distinct_files(tmp_path):
    write_png(str(tmp_path / 'in' / 'a.png'), _image(40, 40, 10))
    write_png(str(tmp_path / 'in' / 'a.jpg'), _image(40, 40, 200))  # PNG bytes are fine
    write_png(str(tmp_path / 'in' / 'b.png'), _image(40, 40))
    inputs = collect_inputs(str(tmp_path / 'in'))
    assert sorted(i.output_name for i in inputs) == ['a.jpg', 'a.png', 'b']

    def brightness_runner(img, trimap):  # alpha follows the (normalised) input
        return np.full((img.shape[0], 1) + img.shape[2:], float(img.mean() > 0), np.float32)

    result = predict_images(brightness_runner, VAL_TRANSFORMS, inputs, str(tmp_path / 'out'),
                            show_progress=False)
    assert result.failed == [] and len(set(result.written)) == 3
    assert np.all(read_alpha(str(tmp_path / 'out' / 'a.png_alpha.png')) == 0)
    assert np.all(read_alpha(str(tmp_path / 'out' / 'a.jpg_alpha.png')) == 255)
    assert os.path.isfile(tmp_path / 'out' / 'b_alpha.png')


def test_list_lines_never_write_outside_save_dir_and_stay_unique(tmp_path):
    lists = tmp_path / 'lists'
    for rel in ('lists/sub/x.png', 'outside/x.png', 'other/x.png', 'lists/y.png'):
        write_png(str(tmp_path / rel), _image(8, 8))
    (lists / 'images.txt').write_text('\n'.join([
        'sub/x.png',                          # inside: keeps its folder
        '../outside/x.png',                   # outside: file name only
        str(tmp_path / 'other' / 'x.png'),    # absolute, outside: file name, made unique
        str(lists / 'y.png'),                 # absolute inside the list folder: relative
        'sub/x.png',                          # listed twice
    ]) + '\n')
    inputs = collect_inputs(str(lists / 'images.txt'))
    assert [i.output_name for i in inputs] == ['sub/x', 'x', 'x-2', 'y', 'sub/x-2']
    assert inputs[1].path == os.path.normpath(str(tmp_path / 'outside' / 'x.png'))
    save_dir = tmp_path / 'out'
    result = predict_images(_half_runner, VAL_TRANSFORMS, inputs, str(save_dir),
                            show_progress=False)
    assert result.failed == [] and len(set(result.written)) == 5
    for path in result.written:
        assert os.path.realpath(path).startswith(os.path.realpath(save_dir) + os.sep)
    assert not os.path.exists(tmp_path / 'outside' / 'x_alpha.png')
    assert not os.path.exists(tmp_path / 'x_alpha.png')

"""Predictor: finding inputs and trimaps, trimap-aware outputs, failures reported not raised,
composites on a --background."""
import os

import numpy as np
import pytest

from paddlematting.predict.input_collection import collect_inputs
from paddlematting.predict.images import predict_images
from paddlematting.predict.visualization import read_background
from paddlematting.transforms import LoadImages, Normalize, ResizeByShort, ResizeToIntMult
from paddlematting.utils.image_io import read_alpha, read_image, write_png
from paddlematting.pipeline.outputs import OutputOptions
from paddlematting.predict import PredictOptions

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
                            str(tmp_path / 'out'), PredictOptions(show_progress=False))
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
                            str(tmp_path / 'out'),
                            PredictOptions(needs_trimap=True, show_progress=False))
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
                            PredictOptions(show_progress=False))
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
                            PredictOptions(show_progress=False))
    assert result.failed == [] and len(set(result.written)) == 5
    for path in result.written:
        assert os.path.realpath(path).startswith(os.path.realpath(save_dir) + os.sep)
    assert not os.path.exists(tmp_path / 'outside' / 'x_alpha.png')
    assert not os.path.exists(tmp_path / 'x_alpha.png')


def _quarter_runner(img, trimap):
    return np.full((img.shape[0], 1) + img.shape[2:], 0.25, np.float32)


# a runner alpha of 0.25 is written as round(0.25 * 255) = 64, and the composite blends with
# that 8-bit alpha: round((64 * image + 191 * background) / 255) per channel
PIXEL = (200, 100, 0)
COLOUR = (40, 80, 255)
BLENDED = (80, 85, 191)  # 20440/255 = 80.16, 21680/255 = 85.02, 48705/255 = 191


def _predict_with_background(tmp_path, background):
    image = np.empty((3, 5, 3), np.uint8)
    image[:] = PIXEL
    write_png(str(tmp_path / 'in' / 'p.png'), image)
    result = predict_images(_quarter_runner, VAL_TRANSFORMS, collect_inputs(str(tmp_path / 'in')),
                            str(tmp_path / 'out'),
                            PredictOptions(outputs=OutputOptions(background=background),
                                           show_progress=False))
    assert result.failed == []
    assert np.all(read_alpha(str(tmp_path / 'out' / 'p_alpha.png')) == 64)
    return read_image(str(tmp_path / 'out' / 'p_composite.png'))


def test_a_colour_background_gives_the_hand_computed_composite(tmp_path):
    composite = _predict_with_background(tmp_path, read_background('#2850ff'))
    assert composite.shape == (3, 5, 3) and composite.dtype == np.uint8
    assert np.all(composite == np.array(BLENDED, np.uint8))
    # r,g,b names the same colour
    np.testing.assert_array_equal(read_background(' 40, 80,255'), read_background('#2850FF'))


def test_an_image_background_is_centre_cropped_and_blended(tmp_path):
    # 7 x 9 background: the centred 3 x 5 window (rows 2..4, columns 2..6) holds COLOUR, a
    # frame of other values around it must not show in the composite
    background = np.full((7, 9, 3), 255, np.uint8)
    background[:, :, 1] = np.arange(9, dtype=np.uint8)[None, :] * 20
    background[2:5, 2:7] = COLOUR
    write_png(str(tmp_path / 'bg.png'), background)
    composite = _predict_with_background(tmp_path, read_background(str(tmp_path / 'bg.png')))
    assert np.all(composite == np.array(BLENDED, np.uint8))


def test_a_small_image_background_is_scaled_up_to_the_input(tmp_path):
    write_png(str(tmp_path / 'bg.png'), np.full((1, 2, 3), COLOUR, np.uint8))
    composite = _predict_with_background(tmp_path, read_background(str(tmp_path / 'bg.png')))
    assert composite.shape == (3, 5, 3) and np.all(composite == np.array(BLENDED, np.uint8))


def test_without_a_background_no_composite_is_written(tmp_path):
    write_png(str(tmp_path / 'in' / 'p.png'), _image(8, 8))
    result = predict_images(_quarter_runner, VAL_TRANSFORMS, collect_inputs(str(tmp_path / 'in')),
                            str(tmp_path / 'out'), PredictOptions(show_progress=False))
    assert result.failed == []
    assert sorted(os.listdir(tmp_path / 'out')) == ['p_alpha.png', 'p_rgba.png']


@pytest.mark.parametrize('spec, error, message', [
    ('#12345', ValueError, "--background '#12345' is not a colour: expected #RRGGBB"),
    ('256,0,0', ValueError, "--background '256,0,0' is not a colour"),
    ('1,2', ValueError, "--background '1,2' is not a colour"),
    ('missing.png', FileNotFoundError, "--background 'missing.png' is neither an existing image"),
])
def test_malformed_backgrounds_are_rejected_naming_the_flag(spec, error, message, tmp_path,
                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error) as caught:
        read_background(spec)
    assert str(caught.value).startswith(message)


def test_an_undecodable_background_file_is_rejected_naming_the_flag_and_file(tmp_path):
    path = tmp_path / 'bg.png'
    path.write_bytes(b'not an image')
    with pytest.raises(ValueError, match=r'^--background .*bg\.png: cannot decode'):
        read_background(str(path))


def test_a_runner_returning_the_wrong_shape_fails_that_input_with_both_shapes(tmp_path):
    write_png(str(tmp_path / 'in' / 'p.png'), _image(40, 40))

    def wrong_size(img, trimap):
        return np.zeros((img.shape[0], 1, 8, 8), np.float32)

    result = predict_images(wrong_size, VAL_TRANSFORMS, collect_inputs(str(tmp_path / 'in')),
                            str(tmp_path / 'out'), PredictOptions(show_progress=False))
    assert result.written == [] and len(result.failed) == 1
    assert 'shape (1, 1, 8, 8)' in result.failed[0][1] and '[1, 1, 32, 32]' in result.failed[0][1]


def test_batches_run_same_size_images_together_with_identical_outputs(tmp_path):
    rng = np.random.default_rng(4)
    os.makedirs(tmp_path / 'in')
    for name in 'abcde':  # five of one size, then one of another
        write_png(str(tmp_path / 'in' / f'{name}.png'), rng.integers(0, 256, (40, 60, 3), np.uint8))
    write_png(str(tmp_path / 'in' / 'f.png'), rng.integers(0, 256, (90, 200, 3), np.uint8))
    transforms = [LoadImages(), ResizeToIntMult(32), Normalize()]
    sizes = []

    def per_pixel(img, trimap):  # each output pixel depends on its own input pixel only
        sizes.append(img.shape[0])
        return (np.tanh(img.sum(axis=1, keepdims=True)) * 0.5 + 0.5).astype(np.float32)

    inputs = collect_inputs(str(tmp_path / 'in'))
    one = predict_images(per_pixel, transforms, inputs, str(tmp_path / 'one'),
                         PredictOptions(show_progress=False))
    assert sizes == [1] * 6
    sizes.clear()
    batched = predict_images(per_pixel, transforms, inputs, str(tmp_path / 'batched'),
                             PredictOptions(show_progress=False, batch_size=2))
    assert sizes == [2, 2, 1, 1] and len(batched.written) == 6 and not batched.failed
    for name in 'abcdef':
        np.testing.assert_array_equal(read_alpha(str(tmp_path / 'batched' / f'{name}_alpha.png')),
                                      read_alpha(str(tmp_path / 'one' / f'{name}_alpha.png')))
    with pytest.raises(ValueError, match='batch_size must be >= 1'):
        predict_images(per_pixel, transforms, inputs, str(tmp_path / 'x'),
                       PredictOptions(batch_size=0))

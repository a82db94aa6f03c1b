"""pipeline.outputs: what is made from a matte (make_outputs), how it is named (output_paths)
and written (write_outputs / save_outputs), behind OutputOptions."""
import os

import numpy as np
import pytest

from paddlematting.pipeline.outputs import (OutputOptions, OutputPaths, alpha_to_uint8, composite,
                                            cutout_foreground, make_outputs, output_paths,
                                            save_outputs, write_outputs)
from paddlematting.utils.image_io import read_alpha, read_image

RED, GREEN = (200, 30, 30), (0, 177, 64)


def _picture():
    """A 6x8 red picture whose right half is soft (alpha 128) and whose last column is clear."""
    image = np.zeros((6, 8, 3), np.uint8)
    image[:] = RED
    alpha = np.full((6, 8), 255, np.uint8)
    alpha[:, 4:] = 128
    alpha[:, 7] = 0
    return image, alpha


def test_only_the_matte_when_nothing_else_is_asked_for():
    _, alpha = _picture()
    outputs = make_outputs(None, alpha, OutputOptions(cutout=False))  # no picture needed
    assert outputs.alpha is alpha and outputs.foreground is None
    assert outputs.rgba is None and outputs.composite is None


def test_cutout_and_composite_share_one_foreground_estimate():
    image, alpha = _picture()
    background = np.zeros((2, 2, 3), np.uint8)
    background[:] = GREEN
    outputs = make_outputs(image, alpha, OutputOptions(background=background, fg_method='multilevel'))
    foreground = cutout_foreground(image, alpha, 'multilevel')
    np.testing.assert_array_equal(outputs.foreground, foreground)
    assert outputs.rgba.shape == (6, 8, 4) and outputs.rgba.dtype == np.uint8
    np.testing.assert_array_equal(outputs.rgba[:, :, :3], foreground)
    np.testing.assert_array_equal(outputs.rgba[:, :, 3], alpha)
    np.testing.assert_array_equal(outputs.composite, composite(foreground, alpha, background))
    # opaque pixels keep the photo, clear ones show the background, soft ones blend
    assert outputs.composite[0, 0].tolist() == list(RED)
    assert outputs.composite[0, 7].tolist() == list(GREEN)
    half = (np.array(RED) * 128 + np.array(GREEN) * 127) / 255
    np.testing.assert_allclose(outputs.composite[0, 5], half, atol=1)


def test_a_float_matte_is_rounded_to_uint8():
    outputs = make_outputs(None, np.array([[0.0, 0.5], [1.0, 2.0]], np.float32),
                           OutputOptions(cutout=False))
    assert outputs.alpha.dtype == np.uint8 and outputs.alpha.tolist() == [[0, 128], [255, 255]]
    np.testing.assert_array_equal(alpha_to_uint8(np.array([-1.0, 0.25])), [0, 64])


@pytest.mark.parametrize('kwargs, message', [
    ({'fg_method': 'poisson'}, 'fg_method must be one of'),
    ({'save_names': 'ours'}, 'save_names must be one of'),
    ({'background': np.zeros((4, 4), np.uint8)}, r'background must be a uint8 \[H, W, 3\]'),
    ({'background': np.zeros((4, 4, 3), np.float32)}, 'background must be a uint8'),
])
def test_bad_options_are_refused_when_made(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OutputOptions(**kwargs)


def test_a_cutout_needs_the_picture_at_the_matte_size():
    image, alpha = _picture()
    with pytest.raises(ValueError, match='needs the picture'):
        make_outputs(None, alpha, OutputOptions())
    with pytest.raises(ValueError, match='needs the picture'):
        make_outputs(image[:3], alpha, OutputOptions())


def test_the_naming_scheme():
    base = os.path.join('out', 'people', 'a')
    assert output_paths('out', 'people/a', OutputOptions()) == OutputPaths(
        base + '_alpha.png', base + '_rgba.png', None)
    background = np.zeros((1, 1, 3), np.uint8)
    paddleseg = output_paths('out', 'people/a', OutputOptions(background=background,
                                                              save_names='paddleseg'))
    assert paddleseg == OutputPaths(base + '.png', base + '_rgba.png', base + '_composite.png')
    # videos: no cut-out, and the matte is never named like the input video
    video = output_paths('out', 'people/a', OutputOptions(background=background,
                                                          save_names='paddleseg'), '.mp4')
    assert video == OutputPaths(base + '_alpha.mp4', None, base + '_composite.mp4')
    assert video.all() == [base + '_alpha.mp4', base + '_composite.mp4']


def test_save_outputs_writes_what_was_made_and_nothing_else(tmp_path):
    image, alpha = _picture()
    options = OutputOptions(background=np.zeros((1, 1, 3), np.uint8))
    outputs = make_outputs(image, alpha, options)
    paths = save_outputs(outputs, str(tmp_path), 'sub/p', options)
    assert sorted(os.listdir(tmp_path / 'sub')) == ['p_alpha.png', 'p_composite.png', 'p_rgba.png']
    np.testing.assert_array_equal(read_alpha(paths.alpha), alpha)
    np.testing.assert_array_equal(read_image(paths.composite), outputs.composite)
    # a path without an array (or an array without a path) writes nothing
    only_alpha = make_outputs(None, alpha, OutputOptions(cutout=False))
    written = write_outputs(only_alpha, OutputPaths(str(tmp_path / 'm.png'), str(tmp_path / 'r.png')))
    assert written.alpha == str(tmp_path / 'm.png') and not (tmp_path / 'r.png').exists()


def test_an_input_is_never_overwritten(tmp_path):
    image, alpha = _picture()
    photo = tmp_path / 'p.png'
    photo.write_bytes(b'the photo')
    options = OutputOptions(save_names='paddleseg')
    with pytest.raises(ValueError, match='would overwrite the input'):
        save_outputs(make_outputs(image, alpha, options), str(tmp_path), 'p', options,
                     input_path=str(photo))
    assert photo.read_bytes() == b'the photo' and os.listdir(tmp_path) == ['p.png']

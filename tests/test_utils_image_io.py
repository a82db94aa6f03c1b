"""utils/image_io: canonical forms for colour images, alphas and trimaps."""
import os

import cv2
import numpy as np
import pytest

from paddlematting.utils.image_io import (as_gray_uint8, as_rgb_uint8, as_trimap_uint8, read_alpha,
                                          read_image, read_trimap, write_png)


def test_read_image_returns_rgb_in_file_channel_order(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30  # cv2 stores B, G, R
    path = str(tmp_path / 'c.png')
    cv2.imwrite(path, bgr)
    rgb = read_image(path)
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [30, 20, 10]


def test_read_image_converts_gray_rgba_and_16bit(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / 'g.png'), gray)
    out = read_image(str(tmp_path / 'g.png'))
    assert out.shape == (3, 4, 3)
    assert np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 2], gray)

    bgra = np.dstack([np.full((3, 4), v, np.uint8) for v in (1, 2, 3, 0)])  # fully transparent
    cv2.imwrite(str(tmp_path / 'a.png'), bgra)
    assert read_image(str(tmp_path / 'a.png'))[1, 1].tolist() == [3, 2, 1]

    deep = np.full((2, 2, 3), 65535, np.uint16)
    deep[0, 0] = (257 * 7, 257 * 7, 257 * 7)
    cv2.imwrite(str(tmp_path / 'd.png'), deep)
    out = read_image(str(tmp_path / 'd.png'))
    assert out.dtype == np.uint8 and out[0, 0].tolist() == [7, 7, 7] and out[1, 1, 0] == 255


def test_read_alpha_converts_three_channel_and_16bit(tmp_path):
    alpha = np.array([[0, 128], [200, 255]], np.uint8)
    cv2.imwrite(str(tmp_path / 'a3.png'), np.dstack([alpha] * 3))
    assert np.array_equal(read_alpha(str(tmp_path / 'a3.png')), alpha)
    cv2.imwrite(str(tmp_path / 'a16.png'), alpha.astype(np.uint16) * 257)
    out = read_alpha(str(tmp_path / 'a16.png'))
    assert out.dtype == np.uint8 and np.array_equal(out, alpha)


def test_four_channel_alpha_uses_alpha_channel_unless_opaque():
    colour = np.full((2, 2, 3), 9, np.uint8)
    cutout = np.dstack([colour, np.array([[0, 50], [100, 255]], np.uint8)])
    assert as_gray_uint8(cutout).tolist() == [[0, 50], [100, 255]]
    opaque = np.dstack([colour, np.full((2, 2), 255, np.uint8)])
    assert as_gray_uint8(opaque).tolist() == [[9, 9], [9, 9]]


def test_trimap_values_are_snapped_to_three_levels(tmp_path):
    raw = np.array([[0, 3, 84, 85], [127, 170, 171, 255]], np.uint8)
    expected = [[0, 0, 0, 128], [128, 128, 255, 255]]
    assert as_trimap_uint8(raw).tolist() == expected
    cv2.imwrite(str(tmp_path / 't.png'), raw)
    assert read_trimap(str(tmp_path / 't.png')).tolist() == expected


def test_write_png_round_trips_and_creates_folders(tmp_path, rng):
    rgb = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    gray = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    write_png(str(tmp_path / 'x' / 'y' / 'rgb.png'), rgb)
    write_png(str(tmp_path / 'rgba.png'), rgba)
    write_png(str(tmp_path / 'gray.png'), gray)
    assert np.array_equal(read_image(str(tmp_path / 'x' / 'y' / 'rgb.png')), rgb)
    assert np.array_equal(read_alpha(str(tmp_path / 'gray.png')), gray)
    back = cv2.imread(str(tmp_path / 'rgba.png'), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(cv2.cvtColor(back, cv2.COLOR_BGRA2RGBA), rgba)


def test_errors_name_the_path(tmp_path):
    missing = str(tmp_path / 'nope.png')
    with pytest.raises(FileNotFoundError, match='nope.png'):
        read_image(missing)
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not an image')
    with pytest.raises(ValueError, match='broken.png'):
        read_alpha(str(broken))
    with pytest.raises(ValueError, match='out.png.*float'):
        write_png(str(tmp_path / 'out.png'), np.zeros((2, 2), np.float32))
    assert not os.path.exists(tmp_path / 'out.png')


def test_in_memory_converters_reject_bad_shapes():
    with pytest.raises(ValueError, match="sample\\['img'\\]"):
        as_rgb_uint8(np.zeros((2, 2, 5), np.uint8), source="sample['img']")
    with pytest.raises(ValueError, match='dtype'):
        as_gray_uint8(np.zeros((2, 2), np.float64))

"""Trimap generation and compositing helpers."""
import numpy as np
import pytest

from paddlematting.datasets import (composite_on_background, eval_trimap, fit_background,
                                    random_trimap, trimap_from_alpha)


def soft_disc_alpha(size=64):
    yy, xx = np.mgrid[0:size, 0:size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    return np.clip((20 - r) * 40, 0, 255).astype(np.uint8)  # opaque core, soft ring


def test_single_soft_pixel_gives_a_cross_of_unknown():
    alpha = np.zeros((9, 9), np.uint8)
    alpha[4, 4] = 100
    trimap = trimap_from_alpha(alpha, kernel_size=3, iterations=1)
    expected = np.zeros((9, 9), np.uint8)
    # cv2's 3x3 ellipse is a cross: the band is the pixel and its 4 neighbours
    expected[4, 3:6] = 128
    expected[3:6, 4] = 128
    assert np.array_equal(trimap, expected)


def test_opaque_block_core_is_foreground():
    alpha = np.zeros((12, 12), np.uint8)
    alpha[2:10, 2:10] = 255
    trimap = trimap_from_alpha(alpha, kernel_size=3, iterations=1)
    assert np.all(trimap[3:9, 3:9] == 255)
    assert np.all(trimap[2, 3:9] == 128) and np.all(trimap[1, 3:9] == 128)
    assert trimap[0, 5] == 0 and trimap[5, 11] == 0


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_unknown_band_covers_every_fractional_pixel(seed):
    alpha = soft_disc_alpha()
    np.random.seed(seed)
    for trimap in (random_trimap(alpha), eval_trimap(alpha)):
        assert set(np.unique(trimap).tolist()) == {0, 128, 255}
        soft = (alpha > 0) & (alpha < 255)
        assert np.all(trimap[soft] == 128)
        assert np.all(alpha[trimap == 255] == 255) and np.all(alpha[trimap == 0] == 0)


def test_eval_trimap_is_deterministic_and_random_one_varies(real_data_root):
    import os
    from paddlematting.utils.image_io import read_alpha
    alpha = read_alpha(os.path.join(real_data_root, 'val', 'alpha', 'GT19.png'))
    assert np.array_equal(eval_trimap(alpha), eval_trimap(alpha))
    np.random.seed(0)
    bands = {int((random_trimap(alpha) == 128).sum()) for _ in range(4)}
    assert len(bands) > 1


def test_fit_background_enlarges_and_centres():
    bg = np.zeros((30, 40, 3), np.uint8)
    bg[:, :, 0] = np.arange(40)[None, :] * 6  # a horizontal ramp
    bg[:, :, 1] = np.arange(30)[:, None] * 8  # a vertical ramp
    out = fit_background(bg, 50, 100, random_crop=False)
    assert out.shape == (50, 100, 3)
    # scale 2.5 -> 100 x 75, centre crop keeps columns 0..99 and rows 12..61;
    # so the horizontal ramp spans the full range and the vertical one is cut symmetrically
    assert out[:, 0, 0].max() < 10 and out[:, -1, 0].min() > 220
    # output row 12 samples source row (12 + 0.5) / 2.5 - 0.5 = 4.5 -> 8 * 4.5 = 36;
    # row 61 samples 24.1 -> 192.8
    assert abs(int(out[0, 50, 1]) - 36) <= 1 and abs(int(out[-1, 50, 1]) - 193) <= 1


def test_fit_background_crops_large_background_without_scaling():
    bg = np.arange(200 * 300 * 3, dtype=np.uint32).reshape(200, 300, 3).astype(np.uint8)
    out = fit_background(bg, 100, 100, random_crop=False)
    assert np.array_equal(out, bg[50:150, 100:200])
    np.random.seed(0)
    window = fit_background(bg, 100, 100, random_crop=True)
    assert window.shape == (100, 100, 3)


def test_composite_hand_computed():
    fg = np.full((1, 3, 3), 200, np.uint8)
    bg = np.full((1, 3, 3), 100, np.uint8)
    alpha = np.array([[0, 255, 51]], np.uint8)  # 51/255 = 0.2
    out = composite_on_background(fg, alpha, bg)
    assert out[0, :, 0].tolist() == [100, 200, 120]
    with pytest.raises(ValueError, match='share height and width'):
        composite_on_background(fg, alpha[:, :2], bg)

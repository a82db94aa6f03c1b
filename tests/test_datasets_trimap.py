"""Trimap generation: from an alpha, at random for training, deterministic for val."""
import numpy as np
import pytest

from paddlematting.datasets.trimap import eval_trimap, random_trimap, trimap_from_alpha


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

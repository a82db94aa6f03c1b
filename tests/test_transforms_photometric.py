"""Photometric transforms change img only, with the colour algebra they promise."""
import numpy as np
import pytest

from paddlematting.transforms import Normalize, RandomBlur, RandomDistort
from paddlematting.transforms.photometric import (adjust_brightness, adjust_contrast,
                                                  adjust_saturation, shift_hue)


def colour_sample(rng, h=24, w=32):
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return {'img': img, 'alpha': rng.integers(0, 256, (h, w), dtype=np.uint8),
            'trimap': np.full((h, w), 128, np.uint8), 'fg': img.copy(), 'bg': img[::-1].copy(),
            'gt_fields': ['alpha', 'trimap', 'fg', 'bg'], 'trans_info': []}


def test_adjustments_hand_computed():
    img = np.array([[[100, 50, 200], [0, 0, 0]]], np.float32)
    np.testing.assert_allclose(adjust_brightness(img, 1.5)[0, 0], [150, 75, 300])
    # saturation 0: every channel becomes the pixel's luma 0.299*100 + 0.587*50 + 0.114*200
    luma = 0.299 * 100 + 0.587 * 50 + 0.114 * 200
    np.testing.assert_allclose(adjust_saturation(img, 0.0)[0, 0], [luma] * 3, rtol=1e-5)
    # contrast 0: every value becomes the mean luma over the image (the black pixel counts)
    np.testing.assert_allclose(adjust_contrast(img, 0.0), np.full_like(img, luma / 2), rtol=1e-5)
    np.testing.assert_allclose(adjust_contrast(img, 1.0), img, rtol=1e-6)


def test_hue_shift_turns_red_into_green():
    red = np.zeros((2, 2, 3), np.float32)
    red[..., 0] = 255
    green = shift_hue(red, 85)  # a third of the way round the 256-step circle
    assert green[0, 0, 1] > 240 and green[0, 0, 0] < 10 and green[0, 0, 2] < 10
    np.testing.assert_allclose(shift_hue(red, 0), red)


def test_random_distort_touches_img_only_and_is_seeded(rng):
    data = colour_sample(rng)
    before = {k: data[k].copy() for k in ('img', 'alpha', 'trimap', 'fg', 'bg')}
    op = RandomDistort(brightness_prob=1, contrast_prob=1, saturation_prob=1, hue_prob=1)
    np.random.seed(11)
    out = op(dict(data))
    assert out['img'].dtype == np.uint8 and out['img'].shape == before['img'].shape
    assert not np.array_equal(out['img'], before['img'])
    for key in ('alpha', 'trimap', 'fg', 'bg'):
        assert np.array_equal(out[key], before[key]), key
    np.random.seed(11)
    assert np.array_equal(op(dict(data))['img'], out['img'])


def test_random_distort_with_zero_probabilities_is_identity(rng):
    data = colour_sample(rng)
    img = data['img'].copy()
    out = RandomDistort(brightness_prob=0, contrast_prob=0, saturation_prob=0, hue_prob=0)(data)
    assert np.array_equal(out['img'], img)


def test_random_blur_smooths_img_only(rng):
    data = colour_sample(rng)
    fg = data['fg'].copy()
    np.random.seed(0)
    out = RandomBlur(prob=1.0)(data)
    # blurring noise lowers its spread; gt fields are untouched
    assert out['img'].astype(float).std() < 0.8 * fg.astype(float).std()
    assert np.array_equal(out['fg'], fg)
    assert np.array_equal(RandomBlur(prob=0.0)(colour_sample(rng))['img'].shape, fg.shape)


def test_photometric_rejects_normalised_input(rng):
    data = Normalize()(colour_sample(rng))
    with pytest.raises(ValueError, match='before Normalize'):
        RandomDistort()(data)


def test_normalize_maps_to_minus_one_one_for_img_fg_bg(rng):
    data = colour_sample(rng)
    data['img'][0, 0] = (0, 255, 51)
    alpha = data['alpha'].copy()
    out = Normalize()(data)
    np.testing.assert_allclose(out['img'][0, 0], [-1.0, 1.0, 51 / 127.5 - 1], rtol=1e-6)
    assert out['img'].dtype == np.float32 and out['fg'].min() >= -1 and out['bg'].max() <= 1
    assert np.array_equal(out['alpha'], alpha)
    custom = Normalize(mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 0.5])(colour_sample(rng))
    assert custom['img'].max() <= 2.0 and custom['img'][..., 2].max() > 1.0
    with pytest.raises(ValueError, match='std'):
        Normalize(std=[0.5, 0, 0.5])

"""Photometric and degradation transforms change img only, with the algebra they promise."""
import cv2
import numpy as np
import pytest

from paddlematting.builders import build_transforms
from paddlematting.transforms import (Normalize, RandomBlur, RandomDistort, RandomNoise, RandomReJpeg,
                                      RandomSharpen)
from paddlematting.transforms.degradation import add_gaussian_noise, jpeg_roundtrip, unsharp_mask
from paddlematting.config import manager
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


# ----------------------------------------------------------------------------- degradations
DEGRADATIONS = [RandomNoise, RandomReJpeg, RandomSharpen]
GT_KEYS = ('alpha', 'trimap', 'fg', 'bg')


@pytest.mark.parametrize('cls', DEGRADATIONS)
def test_degradation_changes_img_only_keeping_dtype_and_shape(cls, rng):
    data = colour_sample(rng)
    before = {k: data[k].copy() for k in ('img',) + GT_KEYS}
    np.random.seed(3)
    out = cls(prob=1.0)(data)
    assert out['img'].dtype == np.uint8 and out['img'].shape == before['img'].shape
    assert not np.array_equal(out['img'], before['img'])
    for key in GT_KEYS:
        assert out[key].dtype == before[key].dtype and np.array_equal(out[key], before[key]), key
    assert out['gt_fields'] == list(GT_KEYS) and out['trans_info'] == []


@pytest.mark.parametrize('cls', DEGRADATIONS)
def test_degradation_with_prob_zero_is_identity(cls, rng):
    op = cls(prob=0.0)
    for seed in range(20):
        data = colour_sample(rng)
        img = data['img'].copy()
        np.random.seed(seed)
        assert np.array_equal(op(data)['img'], img)


@pytest.mark.parametrize('cls', DEGRADATIONS)
def test_degradation_is_reproducible_from_the_global_seed(cls, rng):
    data = colour_sample(rng)
    op = cls(prob=0.5)
    runs = []
    for seed in (5, 5, 6):
        np.random.seed(seed)
        runs.append([op({**data})['img'] for _ in range(16)])
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2]))
    # sixteen draws at prob 0.5 apply the change to some samples and not to others
    applied = [not np.array_equal(img, data['img']) for img in runs[0]]
    assert any(applied) and not all(applied)


@pytest.mark.parametrize('cls', DEGRADATIONS)
def test_degradation_rejects_bad_prob_and_normalised_input(cls, rng):
    for bad in (-0.1, 1.5, '0.5', True):
        with pytest.raises(ValueError, match='prob'):
            cls(prob=bad)
    with pytest.raises(ValueError, match='before Normalize'):
        cls(prob=1.0)(Normalize()(colour_sample(rng)))


def test_gaussian_noise_hand_computed_shift_and_clipping():
    img = np.array([[[0, 100, 253]]], np.uint8)
    # std 0: a pure shift of 0.02 * 255 = 5.1 levels, rounded, then clipped at 255
    np.testing.assert_array_equal(add_gaussian_noise(img, 0.02, 0.0), [[[5, 105, 255]]])
    np.testing.assert_array_equal(add_gaussian_noise(img, -0.02, 0.0), [[[0, 95, 248]]])
    np.random.seed(0)
    gray = np.full((200, 200, 3), 128, np.uint8)
    noisy = add_gaussian_noise(gray, 0.0, 0.02).astype(np.float64)
    assert abs(noisy.mean() - 128) < 0.1 and abs(noisy.std() - 5.1) < 0.1


def test_random_noise_stays_within_paddleseg_ranges():
    gray = np.full((64, 64, 3), 128, np.uint8)
    op = RandomNoise(prob=1.0)
    for seed in range(30):
        np.random.seed(seed)
        diff = op({'img': gray.copy()})['img'].astype(np.float64) - 128
        # mean drawn from U(0, 0.04) * 255 (<= 10.2 levels), std from sqrt(U(0, 0.001)) * 255 (<= 8.1)
        assert -0.5 < diff.mean() < 10.2 + 0.5 and diff.std() < 8.1 + 0.5


def test_jpeg_roundtrip_quality_and_colour_order():
    rng = np.random.default_rng(1)
    noisy = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    error = {q: np.abs(jpeg_roundtrip(noisy, q).astype(int) - noisy).mean() for q in (10, 50, 95)}
    assert error[10] > error[50] > error[95] > 0
    # a smooth gradient survives quality 100 almost exactly
    ramp = np.repeat(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], 64, 0).repeat(3, 2)
    assert np.abs(jpeg_roundtrip(ramp, 100).astype(int) - ramp).max() <= 2
    # red stays in the first channel (no RGB/BGR swap)
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 220
    out = jpeg_roundtrip(red, 90)
    assert out.dtype == np.uint8 and out.shape == red.shape
    assert out[..., 0].min() > 200 and out[..., 1:].max() < 20


def test_random_rejpeg_uses_the_drawn_quality(rng):
    data = colour_sample(rng)
    img = data['img'].copy()
    np.random.seed(0)
    out = RandomReJpeg(prob=1.0, quality_range=(40, 40))(data)
    assert np.array_equal(out['img'], jpeg_roundtrip(img, 40))
    # PaddleSeg's fixed range: integers 70..94
    assert RandomReJpeg().quality_range == (70, 94) and RandomReJpeg().prob == pytest.approx(0.1)
    for bad in ((90, 80), (0, 101), (70.0, 90), (70,), 'high'):
        with pytest.raises(ValueError, match='quality_range'):
            RandomReJpeg(quality_range=bad)


def test_unsharp_mask_hand_computed_step_edge():
    img = np.zeros((5, 8, 3), np.uint8)
    img[:, :4], img[:, 4:] = 100, 200
    out = unsharp_mask(img, 3, 0.4).astype(int)
    # 3-tap Gaussian (sigma 5) weights ~ (0.3311, 0.3378, 0.3311): the blurred image is 133 left
    # of the edge and 167 right of it, so 1.4 * 100 - 0.4 * 133 = 86.8 and 1.4 * 200 - 0.4 * 167 = 213.2
    np.testing.assert_array_equal(out[:, :, 0][0], [100, 100, 100, 87, 213, 200, 200, 200])
    assert np.all(out == out[:1, :, :1])  # every row and channel alike
    flat = np.full((9, 9, 3), 77, np.uint8)
    for ksize in (0, 3, 9):
        assert np.array_equal(unsharp_mask(flat, ksize, 0.5), flat)
    assert np.array_equal(unsharp_mask(img, 5, 0.0), img)


def test_random_sharpen_raises_edge_contrast():
    img = np.zeros((32, 32, 3), np.uint8)
    img[:, 16:] = 200
    img[:, :16] = 50
    for seed in range(10):
        np.random.seed(seed)
        out = RandomSharpen(prob=1.0)({'img': img.copy()})['img'].astype(int)
        assert out[:, 15].max() < 50 and out[:, 16].min() > 200


# the train transforms of PaddleSeg's Matting/configs/quick_start/ppmattingv2-stdc1-human_512.yml
PPMATTINGV2_TRAIN = [
    {'type': 'LimitShort', 'max_short': 512},
    {'type': 'RandomCrop', 'crop_size': [512, 512]},
    {'type': 'Padding', 'target_size': [512, 512]},
    {'type': 'RandomDistort'},
    {'type': 'RandomBlur', 'prob': 0.1},
    {'type': 'RandomSharpen', 'prob': 0.2},
    {'type': 'RandomNoise', 'prob': 0.5},
    {'type': 'RandomReJpeg', 'prob': 0.2},
    {'type': 'RandomHorizontalFlip'},
    {'type': 'Normalize'},
]


def test_paddleseg_config_pipeline_builds_from_the_registry_and_runs(rng):
    for name in ('RandomNoise', 'RandomReJpeg', 'RandomSharpen'):
        assert manager.TRANSFORMS[name] is globals()[name]
    compose = build_transforms(PPMATTINGV2_TRAIN, 'ppmattingv2-stdc1-human_512.yml')
    ops = {type(op).__name__: op for op in compose.transforms}
    assert (ops['RandomSharpen'].prob, ops['RandomNoise'].prob, ops['RandomReJpeg'].prob) == (0.2, 0.5, 0.2)
    data = colour_sample(rng, 40, 56)
    np.random.seed(0)
    first = compose({k: (v.copy() if isinstance(v, np.ndarray) else list(v)) for k, v in data.items()})
    np.random.seed(0)
    second = compose({k: (v.copy() if isinstance(v, np.ndarray) else list(v)) for k, v in data.items()})
    assert first['img'].shape == (3, 512, 512) and first['img'].dtype == np.float32
    assert -1.0 <= first['img'].min() and first['img'].max() <= 1.0
    assert first['alpha'].shape == (1, 512, 512)
    for key in ('img', 'alpha', 'trimap', 'fg', 'bg'):
        assert np.array_equal(first[key], second[key]), key

"""Geometric transforms keep img and every gt field aligned, and trimaps in {0, 128, 255}."""
import cv2
import numpy as np
import pytest

from paddlematting.transforms import (Compose, LimitLong, LimitShort, Padding, RandomCrop,
                                      RandomCropByAlpha, RandomHorizontalFlip, RandomResize, Resize,
                                      ResizeByLong, ResizeByShort, ResizeToIntMult)
from paddlematting.transforms.resize import RANDOM_INTERPS
from paddlematting.config import build_component

TRIMAP_VALUES = {0, 128, 255}


def coordinate_sample(h=60, w=90):
    """img channels = (row, col, row+col) mod 256; alpha = col; fg = img; bg = 255 - img;
    trimap in blocks of 0/128/255 chosen by the column."""
    rows, cols = np.mgrid[0:h, 0:w]
    img = np.dstack([rows, cols, rows + cols]).astype(np.uint8)
    trimap = np.choose((cols // 7) % 3, [0, 128, 255]).astype(np.uint8)
    return {'img': img, 'alpha': cols.astype(np.uint8), 'trimap': trimap, 'fg': img.copy(),
            'bg': 255 - img, 'gt_fields': ['alpha', 'trimap', 'fg', 'bg'], 'trans_info': []}


def assert_aligned(data):
    img = data['img']
    assert np.array_equal(data['alpha'], img[:, :, 1])
    assert np.array_equal(data['fg'], img)
    assert np.array_equal(data['bg'], 255 - img)
    # the trimap is a function of the column, which img's channel 1 still tells
    expected = np.choose((img[:, :, 1].astype(int) // 7) % 3, [0, 128, 255])
    assert np.array_equal(data['trimap'], expected)


def test_random_crop_keeps_fields_aligned_and_size():
    np.random.seed(0)
    for _ in range(5):
        data = RandomCrop([40, 30])(coordinate_sample())
        assert data['img'].shape == (30, 40, 3) and data['trimap'].shape == (30, 40)
        assert_aligned(data)
        assert data['trans_info'] == []  # crops cannot be undone, so they are not recorded


def test_random_crop_smaller_image_keeps_whole_side():
    np.random.seed(0)
    data = RandomCrop([[200, 20]])(coordinate_sample(60, 90))
    assert data['img'].shape[:2] == (20, 90)
    assert_aligned(data)


def test_random_crop_by_alpha_centres_on_unknown_pixel():
    np.random.seed(1)
    data = coordinate_sample(100, 100)
    data['alpha'] = np.zeros((100, 100), np.uint8)
    data['alpha'][70, 20] = 100  # the only fractional pixel
    data = RandomCropByAlpha([[30, 30]], prob=1.0)(data)
    assert data['img'].shape[:2] == (30, 30)
    # window centred at (70, 20): rows 55..84, cols 5..34
    assert data['img'][0, 0, 0] == 55 and data['img'][0, 0, 1] == 5
    assert data['alpha'][15, 15] == 100


def test_random_crop_by_alpha_window_shifted_inside_image():
    np.random.seed(2)
    data = coordinate_sample(50, 50)
    data['alpha'] = np.zeros((50, 50), np.uint8)
    data['alpha'][48, 1] = 7  # near the bottom-left corner
    data = RandomCropByAlpha([[20, 20]], prob=1.0)(data)
    assert data['img'].shape[:2] == (20, 20)
    assert data['img'][0, 0, 0] == 30 and data['img'][0, 0, 1] == 0


def test_horizontal_flip_mirrors_all_fields():
    data = coordinate_sample(10, 12)
    data = RandomHorizontalFlip(prob=1.0)(data)
    assert data['img'][3, 0, 1] == 11
    assert_aligned(data)
    unchanged = RandomHorizontalFlip(prob=0.0)(coordinate_sample(10, 12))
    assert unchanged['img'][3, 0, 1] == 0


@pytest.mark.parametrize('op, expected_hw', [
    (Resize([45, 30]), (30, 45)),
    (ResizeByShort(30), (30, 45)),
    (ResizeByLong(180), (120, 180)),
    (ResizeToIntMult(32), (32, 64)),
    (LimitLong(max_long=45), (30, 45)),
    (LimitLong(max_long=200, min_long=180), (120, 180)),
    (LimitLong(max_long=100), (60, 90)),
    (LimitShort(max_short=30), (30, 45)),
])
def test_resize_family_sizes_trimap_values_and_trans_info(op, expected_hw):
    data = op(coordinate_sample(60, 90))
    for key in ('img', 'alpha', 'trimap', 'fg', 'bg'):
        assert data[key].shape[:2] == expected_hw, key
    assert set(np.unique(data['trimap']).tolist()) <= TRIMAP_VALUES
    assert data['trans_info'] == [('resize', (60, 90))]
    # alpha (bilinear, like img) still equals img's column channel
    assert np.array_equal(data['alpha'], data['img'][:, :, 1])


def test_nearest_resize_of_trimap_keeps_block_layout():
    data = Resize([180, 120])(coordinate_sample(60, 90))  # exact 2x enlargement
    trimap = data['trimap']
    assert np.array_equal(trimap[::2, ::2], coordinate_sample(60, 90)['trimap'])


@pytest.mark.parametrize('h, w', [(37, 100), (64, 65), (500, 33), (20, 20)])
def test_resize_to_int_mult_gives_multiples(h, w):
    data = ResizeToIntMult(32)({'img': np.zeros((h, w, 3), np.uint8), 'gt_fields': []})
    out_h, out_w = data['img'].shape[:2]
    assert out_h % 32 == 0 and out_w % 32 == 0
    assert out_h == max(32, h - h % 32) and out_w == max(32, w - w % 32)


@pytest.mark.parametrize('h, w', [(1000, 300), (300, 1000), (100, 50)])
def test_limit_long_bounds_the_long_side(h, w):
    data = LimitLong(max_long=400, min_long=200)({'img': np.zeros((h, w, 3), np.uint8)})
    long_side = max(data['img'].shape[:2])
    assert 200 <= long_side <= 400
    assert abs(data['img'].shape[0] / data['img'].shape[1] - h / w) < 0.02


def test_padding_pads_bottom_right_with_fill_values():
    data = Padding([100, 64])(coordinate_sample(60, 90))
    assert data['img'].shape == (64, 100, 3) and data['trimap'].shape == (64, 100)
    assert data['trans_info'] == [('padding', (60, 90))]
    assert np.array_equal(data['img'][:60, :90], coordinate_sample(60, 90)['img'])
    assert data['img'][63, 99].tolist() == [128, 128, 128]  # 127.5 rounded by OpenCV
    assert data['alpha'][63, 99] == 0 and data['trimap'][60:, :].max() == 0


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match='target_size'):
        Resize(512)
    with pytest.raises(ValueError, match='min_long'):
        LimitLong(max_long=100, min_long=200)
    with pytest.raises(ValueError, match='crop_size'):
        RandomCrop([[10, 0]])


def test_compose_layout_and_seeded_reproducibility():
    ops = Compose([RandomCrop([[40, 40], [50, 30]]), RandomHorizontalFlip()])
    np.random.seed(5)
    first = ops(coordinate_sample())
    np.random.seed(5)
    second = ops(coordinate_sample())
    for key in ('img', 'alpha', 'trimap', 'fg', 'bg'):
        assert np.array_equal(first[key], second[key])
    assert first['img'].dtype == np.float32 and first['img'].shape[0] == 3
    assert first['alpha'].shape[0] == 1 and first['alpha'].max() <= 1.0
    assert set(np.unique(first['trimap']).tolist()) <= TRIMAP_VALUES
    # alpha was divided by 255 once: it equals img's column channel / 255
    np.testing.assert_allclose(first['alpha'][0], first['img'][1] / 255.0, atol=1e-6)


def noise_sample(h=60, w=90, seed=0):
    """Random img (fg = img) and alpha, with a block trimap: interpolations tell apart."""
    rng = np.random.RandomState(seed)
    img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
    trimap = np.choose((np.arange(w)[None, :].repeat(h, 0) // 7) % 3, [0, 128, 255]).astype(np.uint8)
    return {'img': img, 'fg': img.copy(), 'alpha': rng.randint(0, 256, (h, w)).astype(np.uint8),
            'trimap': trimap, 'gt_fields': ['alpha', 'trimap', 'fg'], 'trans_info': []}


def test_resize_random_interp_draws_the_image_interpolation_only():
    size = (37, 23)  # (w, h): no integer ratio, so the five interpolations all differ
    source = noise_sample()
    by_interp = [cv2.resize(source['img'], size, interpolation=i) for i in RANDOM_INTERPS]
    assert len({r.tobytes() for r in by_interp}) == len(RANDOM_INTERPS)
    bilinear_alpha = cv2.resize(source['alpha'], size, interpolation=cv2.INTER_LINEAR)
    nearest_trimap = cv2.resize(source['trimap'], size, interpolation=cv2.INTER_NEAREST)
    np.random.seed(0)
    seen = set()
    for _ in range(40):
        data = Resize(list(size), random_interp=True)(noise_sample())
        assert data['img'].shape == (23, 37, 3) and data['fg'].shape == (23, 37, 3)
        assert data['alpha'].shape == (23, 37) and data['trimap'].shape == (23, 37)
        assert data['trans_info'] == [('resize', (60, 90))]
        matches = [i for i, r in enumerate(by_interp) if np.array_equal(data['img'], r)]
        assert len(matches) == 1
        seen.add(matches[0])
        np.testing.assert_array_equal(data['fg'], data['img'])  # fg follows img's draw
        np.testing.assert_array_equal(data['alpha'], bilinear_alpha)
        np.testing.assert_array_equal(data['trimap'], nearest_trimap)
        assert set(np.unique(data['trimap']).tolist()) <= TRIMAP_VALUES
    assert seen == set(range(len(RANDOM_INTERPS)))


def test_resize_random_interp_is_reproducible_with_a_seed():
    op = Resize([37, 23], random_interp=True)
    runs = []
    for _ in range(2):
        np.random.seed(11)
        runs.append([op(noise_sample())['img'] for _ in range(6)])
    for first, second in zip(*runs):
        np.testing.assert_array_equal(first, second)
    assert len({r.tobytes() for r in runs[0]}) > 1  # the draws did change between samples


def test_resize_without_random_interp_is_bilinear():
    data = Resize([37, 23])(noise_sample())
    np.testing.assert_array_equal(data['img'], cv2.resize(noise_sample()['img'], (37, 23)))


@pytest.mark.parametrize('size, scale, low, high', [
    (None, [0.5, 1.5], (30, 45), (90, 135)),
    ([180, 90], None, (120, 180), (120, 180)),      # just covers 180x90: factor 2
    ([180, 90], [0.3, 1.5], (36, 54), (180, 270)),
])
def test_random_resize_bounds_aspect_and_fields(size, scale, low, high):
    np.random.seed(2)
    for _ in range(5):
        data = RandomResize(size=size, scale=scale)(coordinate_sample(60, 90))
        h, w = data['img'].shape[:2]
        assert low[0] <= h <= high[0] and low[1] <= w <= high[1]
        assert abs(h / w - 60 / 90) < 0.03
        for key in ('alpha', 'trimap', 'fg', 'bg'):
            assert data[key].shape[:2] == (h, w), key
        assert set(np.unique(data['trimap']).tolist()) <= TRIMAP_VALUES
        assert data['trans_info'] == [('resize', (60, 90))]


def test_random_resize_is_reproducible_with_a_seed():
    op = RandomResize(scale=[0.5, 2.0])
    shapes = []
    for _ in range(2):
        np.random.seed(4)
        shapes.append([op(coordinate_sample())['img'].shape for _ in range(5)])
    assert shapes[0] == shapes[1] and len(set(shapes[0])) > 1


def test_resize_rejects_a_non_bool_random_interp():
    with pytest.raises(ValueError, match='random_interp'):
        Resize([10, 10], random_interp='yes')


@pytest.mark.parametrize('kwargs', [{'scale': [1.5, 0.5]}, {'scale': [0, 1]}, {'scale': 2},
                                    {'size': [0, 10]}, {'size': 512}])
def test_random_resize_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match='RandomResize'):
        RandomResize(**kwargs)


def test_paddleseg_matting_transform_arguments_build():
    """The transform arguments PaddleSeg Matting's configs use (ppmatting, human_matting)."""
    ops = build_component([
        {'type': 'LoadImages', 'to_rgb': True},
        {'type': 'RandomResize', 'size': [2048, 2048], 'scale': [0.3, 1.5]},
        {'type': 'LimitShort', 'max_short': 512},
        {'type': 'RandomCrop', 'crop_size': [[512, 512], [640, 640], [800, 800]]},
        {'type': 'Resize', 'target_size': [512, 512], 'random_interp': True},
        {'type': 'RandomCropByAlpha', 'crop_size': [[320, 320]], 'prob': 0.5},
        {'type': 'Padding', 'target_size': [512, 512]},
        {'type': 'RandomDistort'},
        {'type': 'RandomBlur', 'prob': 0.1},
        {'type': 'RandomHorizontalFlip', 'prob': 0.5},
        {'type': 'ResizeByShort', 'short_size': 512},
        {'type': 'ResizeByLong', 'long_size': 512},
        {'type': 'ResizeToIntMult', 'mult_int': 128},
        {'type': 'LimitLong', 'max_long': 3840},
        {'type': 'Normalize', 'mean': [0, 0, 0], 'std': [1, 1, 1]},
    ], 'train_dataset.transforms', 'paddleseg.yml')
    assert [type(op).__name__ for op in ops][:5] == ['LoadImages', 'RandomResize', 'LimitShort',
                                                     'RandomCrop', 'Resize']
    assert ops[4].random_interp is True and ops[1].scale == [0.3, 1.5]

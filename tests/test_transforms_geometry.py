"""Geometric transforms keep img and every gt field aligned, and trimaps in {0, 128, 255}."""
import numpy as np
import pytest

from paddlematting.transforms import (Compose, LimitLong, LimitShort, Padding, RandomCrop,
                                      RandomCropByAlpha, RandomHorizontalFlip, Resize,
                                      ResizeByLong, ResizeByShort, ResizeToIntMult)

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

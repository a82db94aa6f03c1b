"""Bounded memory: every resize transform caps the long side it produces (max_long, default
4096) and refuses, naming the size, an image that cannot be processed within it."""
import numpy as np
import pytest

from paddlematting.predict.input_collection import collect_inputs
from paddlematting.predict.images import predict_images
from paddlematting.transforms import (LimitLong, LimitShort, LoadImages, Normalize, RandomResize,
                                      Resize, ResizeByLong, ResizeByShort, ResizeToIntMult)
from paddlematting.transforms.size_limits import DEFAULT_MAX_LONG, ImageTooLargeError
from paddlematting.utils.image_io import read_alpha, write_png
from paddlematting.predict import PredictOptions


def _sample(h, w):
    return {'img': np.zeros((h, w, 3), np.uint8), 'alpha': np.zeros((h, w), np.uint8),
            'trans_info': [], 'gt_fields': ['alpha']}


def test_the_4000x2_image_is_refused_by_resize_by_short_with_its_size_named():
    with pytest.raises(ImageTooLargeError) as info:
        ResizeByShort(512)(_sample(2, 4000))
    message = str(info.value)
    assert '4000x2 image' in message and '1024000x512' in message
    assert f'{DEFAULT_MAX_LONG}' in message and 'ResizeByShort.max_long' in message


@pytest.mark.parametrize('make, h, w, key', [
    (lambda cap: Resize((5000, 10), max_long=cap), 10, 10, 'Resize.max_long'),
    (lambda cap: RandomResize(size=(5000, 5000), max_long=cap), 10, 10, 'RandomResize.max_long'),
    (lambda cap: ResizeByShort(512, max_long=cap), 2, 40, 'ResizeByShort.max_long'),
    (lambda cap: ResizeByLong(5000, max_long=cap), 10, 10, 'ResizeByLong.max_long'),
    (lambda cap: LimitShort(min_short=512, max_long=cap), 2, 40, 'LimitShort.max_long'),
    (lambda cap: LimitLong(min_long=5000), 10, 10, 'LimitLong.max_long'),
    (lambda cap: ResizeToIntMult(32, max_long=cap), 10, 5000, 'ResizeToIntMult.max_long'),
])
def test_every_resize_transform_has_a_long_side_cap(make, h, w, key):
    with pytest.raises(ImageTooLargeError, match=key.replace('.', r'\.')):
        make(None)(_sample(h, w))


def test_a_raised_cap_lets_the_image_through():
    out = ResizeByShort(8, max_long=200)(_sample(2, 40))
    assert out['img'].shape[:2] == (8, 160)
    assert LimitLong(max_long=5000, min_long=4500)(_sample(10, 10))['img'].shape[:2] == (4500, 4500)


def test_predict_reports_the_extreme_image_and_writes_the_others(tmp_path):
    write_png(str(tmp_path / 'in' / 'ok.png'), np.full((40, 60, 3), 100, np.uint8))
    write_png(str(tmp_path / 'in' / 'strip.png'), np.full((2, 4000, 3), 100, np.uint8))
    transforms = [LoadImages(), ResizeByShort(512), ResizeToIntMult(32), Normalize()]

    def runner(img, trimap):
        assert img.shape[2] * img.shape[3] < 4096 * 4096
        return np.full((img.shape[0], 1) + img.shape[2:], 0.5, np.float32)

    result = predict_images(runner, transforms, collect_inputs(str(tmp_path / 'in')),
                            str(tmp_path / 'out'), PredictOptions(show_progress=False))
    assert [p.endswith('strip.png') for p, _ in result.failed] == [True]
    assert '4000x2' in result.failed[0][1]
    assert read_alpha(str(tmp_path / 'out' / 'ok_alpha.png')).shape == (40, 60)

"""The shared argument checks and the transforms that use them reject bad arguments by name."""
import numpy as np
import pytest

from paddlematting.transforms import (LoadImages, Padding, RandomBlur, RandomCrop,
                                      RandomCropByAlpha, RandomDistort, RandomHorizontalFlip,
                                      RandomNoise, RandomReJpeg, RandomResize, RandomSharpen, Resize,
                                      ResizeByLong, ResizeByShort, ResizeToIntMult)
from paddlematting.transforms.arg_checks import (check_bool, check_int_in_range, check_positive_int,
                                                 check_positive_number, check_probability,
                                                 check_uint8_img, parse_interval, parse_size_choices,
                                                 parse_size_wh)

BAD_PROBABILITIES = (-0.1, 1.5, '0.5', True, None, [0.5])
RANDOM_TRANSFORMS = (RandomHorizontalFlip, RandomBlur, RandomCropByAlpha, RandomNoise, RandomReJpeg,
                     RandomSharpen)


def test_check_probability_accepts_numbers_in_the_unit_interval():
    assert check_probability(0, 'T.prob') == 0.0 and isinstance(check_probability(1, 'T.prob'), float)
    assert check_probability(np.float32(0.25), 'T.prob') == 0.25
    for bad in BAD_PROBABILITIES:
        with pytest.raises(ValueError, match=r'T\.prob must be a number in \[0, 1\]'):
            check_probability(bad, 'T.prob')


@pytest.mark.parametrize('cls', RANDOM_TRANSFORMS)
def test_every_random_transform_validates_prob(cls):
    assert cls(prob=0.0).prob == 0.0 and cls(prob=1).prob == 1.0
    for bad in BAD_PROBABILITIES:
        with pytest.raises(ValueError, match=f'{cls.__name__}.prob'):
            cls(prob=bad)


@pytest.mark.parametrize('argument', ['brightness_prob', 'contrast_prob', 'saturation_prob',
                                      'hue_prob'])
def test_random_distort_validates_its_probabilities(argument):
    for bad in (-0.5, 2, 'often'):
        with pytest.raises(ValueError, match=f'RandomDistort.{argument} must be a number'):
            RandomDistort(**{argument: bad})


@pytest.mark.parametrize('argument', ['brightness_range', 'contrast_range', 'saturation_range'])
def test_random_distort_validates_its_factor_ranges(argument):
    assert getattr(RandomDistort(**{argument: 1}), argument) == 1.0
    for bad in (-0.1, 1.5, '0.5', None):
        with pytest.raises(ValueError, match=rf'RandomDistort.{argument} must be a number in \[0, 1'):
            RandomDistort(**{argument: bad})


def test_random_distort_validates_its_hue_range():
    assert RandomDistort(hue_range=0).hue_range == 0 and RandomDistort(hue_range=128).hue_range == 128
    for bad in (-1, 129, 18.5, True):
        with pytest.raises(ValueError, match=r'RandomDistort.hue_range must be an integer in \[0, 128'):
            RandomDistort(hue_range=bad)


def test_parse_size_wh_forms_and_errors():
    assert parse_size_wh([64, 32], 'T.size') == (64, 32)
    assert parse_size_wh((np.int64(5), 6), 'T.size') == (5, 6)
    assert parse_size_wh(48, 'T.size', allow_int=True) == (48, 48)
    for bad in (48, [0, 5], [5], [5, 6, 7], [5.0, 6], [True, 6], '64x32', None):
        with pytest.raises(ValueError, match=r'T\.size must be a \[width, height\] pair'):
            parse_size_wh(bad, 'T.size')
    with pytest.raises(ValueError, match=r'T\.size must be a positive integer or a \[width'):
        parse_size_wh(0, 'T.size', allow_int=True)


def test_parse_size_choices_forms_and_errors():
    assert parse_size_choices(320, 'T.crop_size') == [(320, 320)]
    assert parse_size_choices([320, 240], 'T.crop_size') == [(320, 240)]
    assert parse_size_choices([[1, 2], (3, 4)], 'T.crop_size') == [(1, 2), (3, 4)]
    with pytest.raises(ValueError, match=r'T\.crop_size\[1\] must be a \[width, height\] pair'):
        parse_size_choices([[1, 2], [3, 0]], 'T.crop_size')
    for bad in ([], 'big', None):
        with pytest.raises(ValueError, match=r'T\.crop_size must be \[w, h\] or a non-empty list'):
            parse_size_choices(bad, 'T.crop_size')


def test_size_arguments_share_one_parser():
    assert Padding(64).target_size == [64, 64] and Padding([80, 40]).target_size == [80, 40]
    assert RandomCrop(96).crop_size == [(96, 96)]
    assert RandomCropByAlpha([[96, 64]]).crop_size == [(96, 64)]
    assert Resize([30, 20]).target_size == [30, 20]
    for make, name in ((lambda: Padding([0, 5]), 'Padding.target_size'),
                       (lambda: Padding('64'), 'Padding.target_size'),
                       (lambda: Resize([30.5, 20]), 'Resize.target_size'),
                       (lambda: RandomResize(size=[10, -1]), 'RandomResize.size'),
                       (lambda: RandomCropByAlpha([[96]]), r'RandomCropByAlpha.crop_size\[0\]')):
        with pytest.raises(ValueError, match=name):
            make()


def test_parse_interval_checks_each_bound_and_the_order():
    assert parse_interval([0.5, 2], 'T.scale', check_positive_number) == (0.5, 2.0)
    with pytest.raises(ValueError, match=r'T\.scale\[0\] must be a positive number'):
        parse_interval([0, 2], 'T.scale', check_positive_number)
    with pytest.raises(ValueError, match=r'T\.scale must have low <= high'):
        parse_interval([2, 1], 'T.scale', check_positive_number)
    with pytest.raises(ValueError, match=r'T\.scale must be a \[low, high\] pair'):
        parse_interval(1.5, 'T.scale', check_positive_number)
    with pytest.raises(ValueError, match=r'RandomReJpeg.quality_range\[1\] must be an integer in'):
        RandomReJpeg(quality_range=[50, 101])


def test_integer_and_bool_checks():
    assert check_int_in_range(3, 'T.n', 0, 3) == 3
    assert check_positive_int(None, 'T.n', allow_none=True) is None
    with pytest.raises(ValueError, match='T.n must be a positive integer or None'):
        check_positive_int(0, 'T.n', allow_none=True)
    for make, name in ((lambda: ResizeByShort(None), 'ResizeByShort.short_size'),
                       (lambda: ResizeByShort(0), 'ResizeByShort.short_size'),
                       (lambda: ResizeByLong(1.5), 'ResizeByLong.long_size'),
                       (lambda: ResizeToIntMult(-32), 'ResizeToIntMult.mult_int')):
        with pytest.raises(ValueError, match=f'{name} must be a positive integer'):
            make()
    assert check_bool(np.bool_(True), 'T.flag') is True
    with pytest.raises(ValueError, match='LoadImages.to_rgb must be true or false'):
        LoadImages(to_rgb='yes')


def test_check_uint8_img_names_the_transform():
    img = np.zeros((4, 5, 3), np.uint8)
    assert check_uint8_img({'img': img}, 'T') is img
    with pytest.raises(ValueError, match=r"T expects sample\['img'\] as uint8 \[H, W, 3\]"):
        check_uint8_img({'img': img.astype(np.float32)}, 'T')

"""The refine chain's numerics: the automatic trimap (band scaled to the photo, thresholds,
erode size) and tiled refinement at full resolution (only tiles with unknown pixels run, each
with context holding both sure regions, known pixels untouched)."""
import doctest

import numpy as np
import pytest

from paddlematting.predict import auto_trimap as auto_trimap_module
from paddlematting.predict import refine as refine_module
from paddlematting.predict.auto_trimap import BandOptions, as_unit_mask, auto_trimap, band_radius
from paddlematting.predict.refine import TileOptions, has_both_known, refine_unknown, tile_boxes


@pytest.mark.parametrize('module', [auto_trimap_module, refine_module])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def _disc(size: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (np.hypot(yy - size / 2, xx - size / 2) < radius).astype(np.float32)


def test_band_scales_with_the_photo():
    """The same mask at 4x the size gets a band 4x as wide (in pixels), so the same share."""
    small, large = _disc(200, 50), _disc(800, 200)
    band_small = (auto_trimap(small) == 128).sum()
    band_large = (auto_trimap(large) == 128).sum()
    assert band_radius(small.shape, BandOptions()) == 1 and band_radius(large.shape, BandOptions()) == 4
    # the band's area grows with its width times the perimeter: 4 x 4 = 16 times
    assert 12 < band_large / band_small < 20


def test_hard_mask_band_is_symmetric_and_as_wide_as_asked():
    mask = np.zeros((50, 400), np.float32)
    mask[:, 200:] = 1
    trimap = auto_trimap(mask, BandOptions(width=0.02))  # 8 pixels each side of the edge
    row = trimap[25]
    assert (row[:192] == 0).all() and (row[208:] == 255).all()
    assert (row[192:208] == 128).all()


def test_unsure_pixels_are_unknown_and_thresholds_apply():
    mask = np.zeros((30, 30), np.float32)
    mask[:, 15:] = 1.0
    mask[10, 5] = 0.3      # an unsure speck far from the edge
    mask[20, 25] = 0.97    # sure at 0.95, unsure at 0.99
    trimap = auto_trimap(mask, BandOptions(erode_size=1))
    assert trimap[10, 5] == 128 and trimap[10, 4] == 128 and trimap[10, 3] == 0  # speck + margin
    assert trimap[20, 25] == 255
    strict = auto_trimap(mask, BandOptions(erode_size=1, fg_threshold=0.99))
    assert strict[20, 25] == 128
    assert auto_trimap(np.rint(mask * 255).astype(np.uint8), BandOptions(erode_size=1)).tolist() == trimap.tolist()


def test_bad_band_options_and_masks():
    with pytest.raises(ValueError, match='bg_threshold < fg_threshold'):
        BandOptions(fg_threshold=0.2, bg_threshold=0.5)
    with pytest.raises(ValueError, match='width and erode_size'):
        BandOptions(erode_size=-1)
    with pytest.raises(ValueError, match=r'float values must lie in \[0, 1\]'):
        as_unit_mask(np.full((2, 2), 3.0))
    with pytest.raises(ValueError, match='must be \\[H, W\\]'):
        as_unit_mask(np.zeros((2, 2, 3), np.uint8))


class CountingRefiner:
    """A stand-in refiner: alpha = the image's red channel / 255; records each tile's shape."""

    def __init__(self):
        self.calls = []

    def __call__(self, image, trimap):
        assert image.shape[:2] == trimap.shape
        assert has_both_known(trimap)  # every crop has something to refine against
        self.calls.append(image.shape[:2])
        return image[:, :, 0] / 255.0


def _scene(height: int, width: int, rng):
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    trimap = np.zeros((height, width), np.uint8)
    trimap[:, width // 2:] = 255
    trimap[:, width // 2 - 3:width // 2 + 3] = 128
    return image, trimap


def test_tiles_give_the_refiner_values_in_the_band_and_keep_known_pixels(rng):
    image, trimap = _scene(700, 1500, rng)
    refiner = CountingRefiner()
    alpha = refine_unknown(refiner, image, trimap, TileOptions(tile=256, margin=16))
    unknown = trimap == 128
    np.testing.assert_allclose(alpha[unknown], image[:, :, 0][unknown] / 255.0, atol=1e-6)
    assert (alpha[trimap == 0] == 0).all() and (alpha[trimap == 255] == 1).all()
    # only the column of tiles over the band runs: 3 rows of cores (700 / 256), 1 or 2 columns
    assert 3 <= len(refiner.calls) <= 6
    assert all(h <= 256 + 32 and w <= 256 + 32 for h, w in refiner.calls)


def test_small_image_is_one_call_on_the_whole_image(rng):
    image, trimap = _scene(300, 400, rng)
    refiner = CountingRefiner()
    refine_unknown(refiner, image, trimap, TileOptions(tile=512, margin=32))
    assert refiner.calls == [(300, 400)]
    refiner.calls.clear()
    refine_unknown(refiner, image, np.where(trimap == 128, 255, trimap).astype(np.uint8))
    assert refiner.calls == []  # nothing unknown: nothing to run


def test_crop_grows_until_it_holds_both_sure_regions():
    trimap = np.full((400, 400), 255, np.uint8)
    trimap[:5] = 0
    trimap[300, 300] = 128
    ((core, crop),) = tile_boxes(trimap, TileOptions(tile=64, margin=8))
    assert core == (300, 301, 300, 301) and crop[0] <= 4
    assert has_both_known(trimap[crop[0]:crop[1], crop[2]:crop[3]])


def test_refiner_of_the_wrong_size_and_trimap_of_another_size(rng):
    image, trimap = _scene(100, 120, rng)
    with pytest.raises(ValueError, match='the trimap is 120x99 but the image is 120x100'):
        refine_unknown(CountingRefiner(), image, trimap[:99])
    with pytest.raises(ValueError, match='the refiner returned alpha of shape'):
        refine_unknown(lambda im, tri: np.zeros((3, 3)), image, trimap)


def test_tiled_closed_form_equals_the_whole_image_solve(real_data_root):
    """Tiles change closed-form matting's answer only near tile seams: on a shipped photo the
    tiled matte is within 2 % of the whole-image matte's SAD against the truth."""
    import os
    import pymatting
    from paddlematting.utils.image_io import read_alpha, read_image
    image = read_image(os.path.join(real_data_root, 'val', 'fg', 'GT19.png'))
    truth = read_alpha(os.path.join(real_data_root, 'val', 'alpha', 'GT19.png')) / 255.0
    trimap = auto_trimap(truth > 0.5)

    def closed_form(im, tri):
        return np.clip(pymatting.estimate_alpha_cf(im / 255.0, tri / 255.0), 0, 1)

    whole = refine_unknown(closed_form, image, trimap, TileOptions(tile=1024))
    tiled = refine_unknown(closed_form, image, trimap, TileOptions(tile=200, margin=32))
    sad_whole, sad_tiled = np.abs(whole - truth).sum(), np.abs(tiled - truth).sum()
    assert abs(sad_tiled - sad_whole) < 0.02 * sad_whole
    assert np.abs(tiled - whole).max() < 0.5


def test_a_4000x3000_photo_is_refined_at_full_size_in_bounded_tiles():
    """Never shrunk: the refiner sees full-resolution crops no larger than a tile plus its
    margins (memory follows the tile), and the matte comes back at 4000x3000."""
    height, width = 3000, 4000
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 0] = (np.arange(width) % 256).astype(np.uint8)[None]  # full-resolution detail
    mask = _disc(width, 1300)[:height]
    trimap = auto_trimap(mask)
    assert band_radius(trimap.shape, BandOptions()) == 20
    refiner = CountingRefiner()
    tiles = TileOptions(tile=512, margin=32)
    alpha = refine_unknown(refiner, image, trimap, tiles)
    assert alpha.shape == (height, width)
    unknown = trimap == 128
    np.testing.assert_allclose(alpha[unknown], image[:, :, 0][unknown] / 255.0, atol=1e-6)
    assert all(h <= 512 + 64 and w <= 512 + 64 for h, w in refiner.calls)
    assert len(refiner.calls) < (height // 512 + 1) * (width // 512 + 1)  # band tiles only

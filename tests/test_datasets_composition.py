"""Compositing a foreground over a background fitted to its size."""
import numpy as np
import pytest

from paddlematting.datasets.composition import composite_on_background, fit_background


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

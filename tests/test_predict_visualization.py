"""Compositing and the side-by-side picture."""
import numpy as np
import pytest

from paddlematting.pipeline.outputs import composite
from paddlematting.predict.visualization import matting_showcase


def test_composite_blends_by_alpha():
    image = np.full((4, 6, 3), 200, np.uint8)
    background = np.full((2, 3, 3), 100, np.uint8)
    alpha = np.array([[0, 255, 128, 64, 255, 0]] * 4, np.uint8)
    out = composite(image, alpha, background)
    expected = np.round(alpha / 255 * 200 + (1 - alpha / 255) * 100)
    np.testing.assert_array_equal(out[:, :, 1], expected)


def test_showcase_puts_input_alpha_and_cutout_side_by_side():
    image = np.full((20, 30, 3), 50, np.uint8)
    alpha = np.full((20, 30), 255, np.uint8)
    picture = matting_showcase(image, alpha, np.zeros((5, 5, 3), np.uint8))
    assert picture.shape == (20, 3 * 30 + 2 * 8, 3)
    np.testing.assert_array_equal(picture[:, :30], image)
    assert np.all(picture[:, 38:68] == 255)  # the alpha panel, gray repeated to RGB
    np.testing.assert_array_equal(picture[:, 76:], image)  # opaque: the cut-out is the image
    with pytest.raises(ValueError, match='same size'):
        matting_showcase(image, alpha[:10], np.zeros((5, 5, 3), np.uint8))

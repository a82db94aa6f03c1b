"""prepare/restore shared by the evaluator, the dygraph predictor and Paddle Inference."""
import numpy as np

from paddlematting.builders import build_transforms
from paddlematting.pipeline import finish_alpha, predict_alpha
from paddlematting.utils.trimap_values import force_known_regions


def test_known_regions_forced_after_restoring_the_size():
    # network output at half size; the trimap is at the original size
    small = np.full((1, 1, 4, 6), 0.5, np.float32)
    trimap = np.full((8, 12), 128, np.uint8)
    trimap[:, :3] = 0
    trimap[:, -3:] = 255
    alpha = finish_alpha(small, [('resize', (8, 12))], trimap)
    assert alpha.shape == (8, 12) and alpha.dtype == np.float32
    assert np.all(alpha[:, :3] == 0.0) and np.all(alpha[:, -3:] == 1.0)
    # the unknown band keeps the prediction, untouched by forced neighbours
    np.testing.assert_allclose(alpha[:, 3:-3], 0.5, atol=1e-6)


def test_force_known_regions_keeps_the_scale():
    trimap = np.array([[0, 128, 255]], np.uint8)
    np.testing.assert_array_equal(force_known_regions(np.full((1, 3), 100, np.uint8), trimap), [[0, 100, 255]])
    np.testing.assert_allclose(force_known_regions(np.full((1, 3), 0.4, np.float32), trimap), [[0, 0.4, 1.0]])
    a = np.full((1, 3), 0.4, np.float32)
    assert force_known_regions(a, None) is a


def test_predict_alpha_restores_size_and_sees_normalised_input():
    transforms = build_transforms([{'type': 'LoadImages'}, {'type': 'ResizeByShort', 'short_size': 32},
                                   {'type': 'ResizeToIntMult', 'mult_int': 32}, {'type': 'Normalize'}])
    image = np.zeros((50, 75, 3), np.uint8)
    image[:, 40:] = 255
    seen = {}

    def runner(img, trimap):
        seen['shape'], seen['range'] = img.shape, (img.min(), img.max())
        # alpha = "brightness" of the image, so the restored alpha must reproduce the step
        return (img[:, :1] + 1.0) / 2.0

    alpha = predict_alpha(runner, image, None, transforms)
    assert seen['shape'][2] % 32 == 0 and seen['shape'][3] % 32 == 0
    assert seen['range'] == (-1.0, 1.0)
    assert alpha.shape == (50, 75)
    assert np.all(alpha[:, :35] < 0.05) and np.all(alpha[:, 45:] > 0.95)

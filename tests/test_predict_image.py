"""predict_image: one RGB array in, the matte / cut-out / composite out as arrays, the same as
what predict_images writes for that picture; a paddle model, a runner or a Predictor-like
runner carrying its transforms; clear refusals."""
import numpy as np
import paddle
import pytest

from paddlematting.pipeline.outputs import OutputOptions
from paddlematting.predict import PredictOptions, collect_inputs, predict_image, predict_images
from paddlematting.transforms import Compose, LoadImages, Normalize, ResizeByShort, ResizeToIntMult
from paddlematting.utils.image_io import read_alpha, read_image, write_png

TRANSFORMS = [LoadImages(), ResizeByShort(32), ResizeToIntMult(32), Normalize()]


def _photo(h=45, w=61):
    """Left half dark, right half bright, a soft-looking gradient between."""
    x = np.linspace(0, 255, w, dtype=np.float32)
    image = np.repeat(np.repeat(x[None, :, None], h, 0), 3, 2).astype(np.uint8)
    image[:, :, 1] //= 2
    return image


def _brightness_runner(img, trimap):
    """alpha = the normalised image's first channel mapped into [0, 1] (depends on the pixels,
    so a wrong resize or restore shows)."""
    return np.clip(img[:, :1] * 0.5 + 0.5, 0.0, 1.0).astype(np.float32)


class _Carrying:
    """A runner that carries its own transforms and needs, as inference.Predictor does."""

    def __init__(self, needs_trimap=False):
        self.transforms = Compose(TRANSFORMS)
        self.needs_trimap = needs_trimap

    def __call__(self, img, trimap):
        return _brightness_runner(img, trimap)


def test_the_arrays_equal_what_predict_images_writes(tmp_path):
    image = _photo()
    write_png(str(tmp_path / 'in' / 'p.png'), image)
    background = np.zeros((3, 3, 3), np.uint8)
    background[:] = (0, 177, 64)
    options = OutputOptions(background=background)
    result = predict_images(_brightness_runner, TRANSFORMS, collect_inputs(str(tmp_path / 'in')),
                            str(tmp_path / 'out'), PredictOptions(options, show_progress=False))
    assert not result.failed
    outputs = predict_image(_brightness_runner, image, transforms=TRANSFORMS, options=options)
    assert outputs.alpha.shape == image.shape[:2] and outputs.alpha.dtype == np.uint8
    assert 0 < outputs.alpha.min() < outputs.alpha.max() < 255  # it follows the brightness
    np.testing.assert_array_equal(outputs.alpha, read_alpha(str(tmp_path / 'out' / 'p_alpha.png')))
    np.testing.assert_array_equal(outputs.composite, read_image(str(tmp_path / 'out' / 'p_composite.png')))
    rgba = read_image(str(tmp_path / 'out' / 'p_rgba.png'))  # colours only
    np.testing.assert_array_equal(outputs.rgba[:, :, :3], rgba)


def test_a_runner_carrying_its_transforms_needs_none_given():
    image = _photo()
    carried = predict_image(_Carrying(), image, options=OutputOptions(cutout=False))
    given = predict_image(_brightness_runner, image, transforms=Compose(TRANSFORMS),
                          options=OutputOptions(cutout=False))
    np.testing.assert_array_equal(carried.alpha, given.alpha)
    assert carried.rgba is None and carried.composite is None


class _GreyNet(paddle.nn.Layer):
    """A model in the package's form: ``{'img'}`` -> alpha [N,1,H,W], here the mean colour
    mapped into [0, 1]."""

    def forward(self, inputs):
        return paddle.clip(inputs['img'].mean(axis=1, keepdim=True) * 0.5 + 0.5, 0.0, 1.0)


def test_a_paddle_model_runs_in_eval_mode_without_gradients():
    model = _GreyNet()
    model.train()
    image = _photo()
    outputs = predict_image(model, image, transforms=TRANSFORMS)
    expected = predict_image(lambda img, tri: np.clip(img.mean(axis=1, keepdims=True) * 0.5 + 0.5,
                                                      0, 1).astype(np.float32),
                             image, transforms=TRANSFORMS)
    np.testing.assert_allclose(outputs.alpha.astype(int), expected.alpha.astype(int), atol=1)
    assert not model.training


def test_a_trimap_sets_the_known_regions():
    image = _photo()
    trimap = np.full(image.shape[:2], 128, np.uint8)
    trimap[:, :10] = 0
    trimap[:, -10:] = 255
    outputs = predict_image(_Carrying(needs_trimap=True), image, trimap,
                            options=OutputOptions(cutout=False))
    assert np.all(outputs.alpha[:, :10] == 0) and np.all(outputs.alpha[:, -10:] == 255)


@pytest.mark.parametrize('call, message', [
    (lambda: predict_image(_brightness_runner, _photo()), 'needs the transforms'),
    (lambda: predict_image(_Carrying(needs_trimap=True), _photo()), 'needs a trimap'),
    (lambda: predict_image(_Carrying(), _photo().astype(np.float32)), 'uint8'),
    (lambda: predict_image(_Carrying(), _photo()[:, :, 0]), r'\[H,W,3\]'),
    (lambda: predict_image('model.pdparams', _photo()), 'expected a runner'),
])
def test_refusals_say_what_is_missing(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()

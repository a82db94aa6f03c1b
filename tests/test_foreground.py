"""paddlematting.foreground: blur fusion and multi-level foreground estimation.

Composites with a known foreground are made from shipped data: a real alpha, one shipped
photo as F and another as B (I = a F + (1 - a) B, rounded to 8 bits as a photo would be).
"""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REAL_DATA_ROOT, REPO_ROOT
from paddlematting.foreground import estimate_foreground


def _read_rgb(rel):
    return cv2.cvtColor(cv2.imread(os.path.join(REAL_DATA_ROOT, rel)), cv2.COLOR_BGR2RGB)


def known_composite(alpha_name, fg_name, bg_name):
    """(image uint8 [H,W,3], alpha uint8 [H,W], true F float32 [H,W,3] in [0,1])."""
    alpha = cv2.imread(os.path.join(REAL_DATA_ROOT, 'val', 'alpha', alpha_name + '.png'), cv2.IMREAD_GRAYSCALE)
    h, w = alpha.shape
    fg = cv2.resize(_read_rgb(f'val/fg/{fg_name}.png'), (w, h)).astype(np.float32) / 255
    bg = cv2.resize(_read_rgb(f'bg/{bg_name}'), (w, h)).astype(np.float32) / 255
    a = alpha[:, :, None].astype(np.float32) / 255
    image = np.round((a * fg + (1 - a) * bg) * 255).astype(np.uint8)
    return image, alpha, fg


def foreground_error(estimate, true_fg, alpha):
    """Alpha-weighted mean absolute colour error (what a composite shows)."""
    a = alpha.astype(np.float64) / 255
    return float((np.abs(np.asarray(estimate, np.float64) - true_fg).mean(axis=2) * a).sum() / a.sum())


COMPOSITES = [('GT05', 'GT20', 'rocket.jpg'), ('GT11', 'GT19', 'coffee.png')]


@pytest.mark.parametrize('method', ['blur_fusion', 'multilevel'])
@pytest.mark.parametrize('names', COMPOSITES, ids=lambda n: n[0])
def test_methods_beat_the_image_as_foreground_by_a_wide_margin(method, names):
    image, alpha, true_fg = known_composite(*names)
    trivial = foreground_error(image.astype(np.float32) / 255, true_fg, alpha)
    estimated = foreground_error(estimate_foreground(image, alpha, method), true_fg, alpha)
    # measured: blur fusion 3.2-5.6x, multilevel 6.8-7.3x better than F = I
    assert estimated < trivial / 2.5, (method, estimated, trivial)


def test_multilevel_within_five_percent_of_pymatting():
    from pymatting import estimate_foreground_ml
    image, alpha, true_fg = known_composite('GT11', 'GT20', 'rocket.jpg')
    ours = foreground_error(estimate_foreground(image, alpha, 'multilevel'), true_fg, alpha)
    theirs = foreground_error(estimate_foreground_ml(image.astype(np.float64) / 255,
                                                     alpha.astype(np.float64) / 255), true_fg, alpha)
    assert ours <= 1.05 * theirs, (ours, theirs)


@pytest.mark.parametrize('method', ['blur_fusion', 'multilevel'])
def test_output_form_and_known_regions(method):
    image, alpha, _ = known_composite('GT05', 'GT20', 'rocket.jpg')
    fg = estimate_foreground(image, alpha, method)
    assert fg.dtype == np.float32 and fg.shape == image.shape
    assert fg.min() >= 0 and fg.max() <= 1
    # where alpha is 1 around a pixel, its foreground is the image (multilevel: up to its
    # eps-sized smoothing; next to soft pixels its gradient term may blend neighbours in)
    opaque = cv2.erode((alpha == 255).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    np.testing.assert_allclose(fg[opaque], image[opaque] / 255.0, atol=1e-3)
    # uint8 and float inputs mean the same thing
    again = estimate_foreground(image.astype(np.float64) / 255, alpha.astype(np.float32) / 255, method)
    np.testing.assert_allclose(again, fg, atol=1e-5)


def test_soft_pixels_move_toward_the_true_foreground():
    """A flat red foreground over a flat blue background, mixed 50/50 in a band: F must be
    (nearly) red where the image is purple; blur fusion's local means mix a little of the
    band's own colour in (the paper's approximation), so it gets 0.05 against F = I's 0.5."""
    alpha = np.zeros((64, 96), np.uint8)
    alpha[:, :40] = 255
    alpha[:, 40:48] = 128
    image = np.zeros((64, 96, 3), np.uint8)
    image[:] = (0, 0, 255)
    image[:, :40] = (255, 0, 0)
    image[:, 40:48] = (128, 0, 127)
    for method in ('blur_fusion', 'multilevel'):
        fg = estimate_foreground(image, alpha, method)
        np.testing.assert_allclose(fg[:, 40:48], np.broadcast_to([1.0, 0, 0], (64, 8, 3)),
                                   atol=0.05 if method == 'blur_fusion' else 0.02, err_msg=method)


@pytest.mark.parametrize('image, alpha, method, message', [
    (np.zeros((4, 5, 3), np.uint8), np.zeros((4, 6), np.uint8), 'blur_fusion', 'alpha must be'),
    (np.zeros((4, 5), np.uint8), np.zeros((4, 5), np.uint8), 'blur_fusion', 'image must be'),
    (np.zeros((4, 5, 3), np.int32), np.zeros((4, 5), np.uint8), 'blur_fusion', 'dtype int32'),
    (np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), bool), 'multilevel', 'dtype bool'),
    (np.full((4, 5, 3), 200.0), np.zeros((4, 5)), 'blur_fusion', 'must lie in'),
    (np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.uint8), 'poisson', 'method must be'),
])
def test_bad_inputs_get_one_clear_error(image, alpha, method, message):
    with pytest.raises(ValueError, match=message) as info:
        estimate_foreground(image, alpha, method)
    assert '\n' not in str(info.value)


def test_tiny_and_trivial_images():
    for h, w in ((1, 1), (1, 7), (3, 2)):
        image = np.full((h, w, 3), 90, np.uint8)
        for alpha in (np.zeros((h, w), np.uint8), np.full((h, w), 255, np.uint8), np.full((h, w), 100, np.uint8)):
            for method in ('blur_fusion', 'multilevel'):
                fg = estimate_foreground(image, alpha, method)
                assert fg.shape == (h, w, 3) and np.isfinite(fg).all()


def test_importable_without_paddle():
    """The package must not import paddle (it is used by tools that run without it)."""
    code = ("import sys, types; sys.modules['paddle'] = None; "
            "pkg = types.ModuleType('paddlematting'); pkg.__path__ = [sys.argv[1]]; "
            "sys.modules['paddlematting'] = pkg; "
            "import numpy as np; from paddlematting.foreground import estimate_foreground; "
            "f = estimate_foreground(np.zeros((8, 8, 3), np.uint8), np.full((8, 8), 9, np.uint8)); "
            "assert f.shape == (8, 8, 3); print('ok')")
    out = subprocess.run([sys.executable, '-c', code, os.path.join(REPO_ROOT, 'paddlematting')],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == 'ok', out.stderr

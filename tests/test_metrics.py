"""Tests of paddlematting.metrics: SAD, MSE, Grad, Conn under the DIM benchmark conventions."""
import ast
import glob
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from scipy import ndimage

from conftest import REPO_ROOT, TEST_DATA_DIR
from paddlematting.metrics import MSE, SAD, Conn, Grad, build_metrics
from paddlematting.metrics.grad import gaussian_derivative_kernels, gradient_magnitude

METRIC_NAMES = ['sad', 'mse', 'grad', 'conn']
# every registered metric: the matting errors, then the segmentation scores (test_metrics_segmentation.py)
REGISTERED_NAMES = METRIC_NAMES + ['mae', 'maxf', 'smeasure']
REFERENCE_JSON = os.path.join(TEST_DATA_DIR, 'metrics', 'metrics_A.json')
REFERENCE_NPZ = os.path.join(TEST_DATA_DIR, 'metrics', 'metrics_A.npz')


def _reference_cases():
    with open(REFERENCE_JSON) as f:
        cases = json.load(f)['cases']
    return [(index, with_trimap) for index in range(len(cases)) for with_trimap in (True, False)]


def _trimap_from(gt: np.ndarray, width: int = 2) -> np.ndarray:
    """A trimap consistent with gt: 0/255 where gt is, 128 on a band around the soft pixels."""
    trimap = np.full(gt.shape, 128, dtype=np.uint8)
    trimap[gt == 0] = 0
    trimap[gt == 255] = 255
    trimap[ndimage.binary_dilation((gt > 0) & (gt < 255), iterations=width)] = 128
    return trimap


@pytest.fixture
def soft_matte(rng):
    """(gt, trimap) uint8 [32, 40]: a blob with a soft edge, and its trimap."""
    rows, cols = np.mgrid[0:32, 0:40]
    radius = np.hypot(rows - 16, cols - 20)
    gt = np.clip((12 - radius) / 4, 0, 1)
    gt = (gt * 255).round().astype(np.uint8)
    return gt, _trimap_from(gt)


# ---- the reference values -------------------------------------------------------------------

@pytest.mark.parametrize('index,with_trimap', _reference_cases())
def test_reference_values(index, with_trimap):
    with open(REFERENCE_JSON) as f:
        expected = json.load(f)['cases'][index]
    arrays = np.load(REFERENCE_NPZ)
    trimap = arrays[f'trimap_{index}'] if with_trimap else None
    for name, metric in build_metrics(METRIC_NAMES).items():
        value = metric.update(arrays[f'pred_{index}'], arrays[f'gt_{index}'], trimap)
        key = name if with_trimap else f'{name}_no_trimap'
        assert value == pytest.approx(expected[key], rel=1e-6), (name, with_trimap)


# ---- hand-computed cases --------------------------------------------------------------------

def test_sad_mse_by_hand():
    gt = np.zeros((4, 4), dtype=np.uint8)
    pred = gt.copy()
    pred[0, 0] = 255  # error 1
    pred[2, 3] = 51   # error 0.2
    assert SAD().update(pred, gt) == pytest.approx((1.0 + 0.2) / 1000)
    assert MSE().update(pred, gt) == pytest.approx((1.0 + 0.04) / 16)

    # the big error lies where the trimap says background: pred is forced to 0 there
    trimap = np.full((4, 4), 128, dtype=np.uint8)
    trimap[0, :] = 0
    assert SAD().update(pred, gt, trimap) == pytest.approx(0.2 / 1000)
    assert MSE().update(pred, gt, trimap) == pytest.approx(0.04 / 12)


def test_mse_without_unknown_pixels_is_zero():
    gt = np.zeros((3, 3), dtype=np.uint8)
    assert MSE().update(gt + 7, gt, np.zeros_like(gt)) == 0.0


def test_conn_by_hand_soft_pixel():
    # 1x3: thresholds up to 0.5 keep all pixels in one component; from 0.6 the middle pixel
    # (pred 0.5) splits it, so pixels 1 and 2 get level 0.5 and pixel 0 level 1.
    # phi(gt) - phi(pred): pixel 1: (1 - 0.5) vs 1 -> 0.5; pixels 0 and 2: equal.
    gt = np.array([[255, 255, 255]], dtype=np.uint8)
    pred = np.array([[255.0, 127.5, 255.0]])
    assert Conn().update(pred, gt) == pytest.approx(0.5 / 1000)


def test_conn_excludes_background_from_the_largest_component():
    # the zero background (4 pixels) is bigger than the matte (2 pixels); the matte is the
    # component, so both its pixels get level 0.6: phi(gt) = 0.6, phi(pred 0.65) = 1.
    # Counting the background as a component would give level 0 and 0.35 per pixel instead.
    gt = np.array([[255, 255, 0, 0, 0, 0]], dtype=np.uint8)
    pred = np.array([[165.75, 165.75, 0, 0, 0, 0]])
    assert Conn().update(pred, gt) == pytest.approx(2 * 0.4 / 1000)


def test_conn_uses_four_connectivity():
    # the diagonal pixels (pred 0.65) touch only by corners: three components of one pixel,
    # the first in raster order wins. (0,0): level 0.6 -> 0.4; (1,1), (2,2): level 0 ->
    # |0 - 0.35| each; six off-diagonal pixels (pred 0): |0 - 1| each. 8-connectivity would
    # give 3 * 0.4 + 6 = 7.2.
    gt = np.full((3, 3), 255, dtype=np.uint8)
    pred = np.diag([165.75] * 3)
    assert Conn().update(pred, gt) == pytest.approx((0.4 + 2 * 0.35 + 6) / 1000)


def test_conn_counts_an_alpha_equal_to_a_threshold_as_reaching_it():
    # 153/255 is exactly 0.6: the pixel stays in the component at the 0.6 threshold, so its
    # level is 0.6 and phi(gt) = 1 - 0.4 against phi(pred) = 1. Reading that threshold as
    # 6 * 0.1 = 0.6000000000000001 would drop the pixel a level early (level 0.5), giving
    # phi(gt) = 0.5 against phi(pred) = 1 (gap 0.1 < 0.15), i.e. 0.5 / 1000.
    gt = np.array([[255, 255]], dtype=np.uint8)
    pred = np.array([[255, 153]], dtype=np.uint8)
    assert Conn().update(pred, gt) == pytest.approx(0.4 / 1000)


def test_grad_kernel_matches_the_convention():
    smooth, derivative = gaussian_derivative_kernels(1.4)
    # half size ceil(1.4 * sqrt(-2 ln(sqrt(2 pi) * 1.4 * 0.01))) = ceil(3.62) = 4
    assert smooth.shape == derivative.shape == (9,)
    kernel = np.outer(smooth, derivative)
    assert np.sqrt(np.sum(kernel ** 2)) == pytest.approx(1.0)
    np.testing.assert_allclose(derivative, -derivative[::-1], atol=1e-15)
    np.testing.assert_allclose(smooth, smooth[::-1], atol=1e-15)
    assert derivative[4] == 0.0


def test_separable_gradient_equals_the_2d_filter(rng):
    image = rng.random((20, 30))
    smooth, derivative = gaussian_derivative_kernels(1.4)
    kernel_x = np.outer(smooth, derivative)
    grad_x = ndimage.convolve(image, kernel_x, mode='nearest')
    grad_y = ndimage.convolve(image, kernel_x.T, mode='nearest')
    np.testing.assert_allclose(gradient_magnitude(image, 1.4), np.hypot(grad_x, grad_y),
                               rtol=1e-10, atol=1e-12)


# ---- invariants -----------------------------------------------------------------------------

@pytest.mark.parametrize('with_trimap', [True, False])
def test_perfect_prediction_scores_zero(soft_matte, with_trimap):
    gt, trimap = soft_matte
    for name, metric in build_metrics(METRIC_NAMES).items():
        assert metric.update(gt.copy(), gt, trimap if with_trimap else None) == 0.0, name


def test_errors_in_the_known_region_do_not_count(soft_matte, rng):
    gt, trimap = soft_matte
    pred = gt.copy()
    known = trimap != 128
    pred[known] = rng.integers(0, 256, size=int(known.sum()))
    for name, metric in build_metrics(METRIC_NAMES).items():
        assert metric.update(pred, gt, trimap) == 0.0, name
        # without the trimap the same errors do count
        assert metric.update(pred, gt) > 0.0, name


def test_uint8_and_float_inputs_agree(soft_matte, rng):
    gt, trimap = soft_matte
    pred = np.clip(gt.astype(np.int64) + rng.integers(-40, 41, gt.shape), 0, 255).astype(np.uint8)
    for name in METRIC_NAMES:
        from_uint8 = build_metrics([name])[name].update(pred, gt, trimap)
        from_float = build_metrics([name])[name].update(pred.astype(np.float32),
                                                        gt.astype(np.float64), trimap)
        assert from_uint8 > 0
        assert from_float == pytest.approx(from_uint8, rel=1e-12), name


def test_running_mean_over_updates(soft_matte, rng):
    gt, trimap = soft_matte
    for name in METRIC_NAMES:
        metric = build_metrics([name])[name]
        values = []
        for noise in (10, 30, 60):
            pred = np.clip(gt.astype(np.int64) + rng.integers(-noise, noise + 1, gt.shape),
                           0, 255)
            values.append(metric.update(pred, gt, trimap))
        assert metric.count == 3
        assert metric.evaluate() == pytest.approx(np.mean(values)), name
        assert len(set(values)) == 3, name
        metric.reset()
        with pytest.raises(RuntimeError, match='before any update'):
            metric.evaluate()


# ---- errors ---------------------------------------------------------------------------------

def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match='same shape'):
        SAD().update(np.zeros((4, 5)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match='same shape'):
        Grad().update(np.zeros((4, 5)), np.zeros((4, 5)), np.zeros((4, 4)))


def test_bad_inputs_are_errors():
    with pytest.raises(ValueError, match=r'2-D alpha image'):
        MSE().update(np.zeros((2, 4, 5)), np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r'\[0, 255\]'):
        MSE().update(np.full((4, 5), 300.0), np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r'trimap must only hold'):
        MSE().update(np.zeros((4, 5)), np.zeros((4, 5)), np.full((4, 5), 100))


def test_build_metrics_names():
    metrics = build_metrics(['SAD', 'Mse', 'grad', 'CONN'])
    assert list(metrics) == METRIC_NAMES
    assert [type(m) for m in metrics.values()] == [SAD, MSE, Grad, Conn]
    with pytest.raises(ValueError, match=r"'psnr'.*\['conn', 'grad', 'mae', 'maxf', 'mse', 'sad', 'smeasure'\]"):
        build_metrics(['sad', 'psnr'])


def test_metrics_import_neither_paddle_nor_anything_outside_numpy_scipy():
    allowed = {'numpy', 'scipy', 'typing', 'math'}  # and the package itself (level-1 imports)
    for path in glob.glob(os.path.join(REPO_ROOT, 'paddlematting', 'metrics', '*.py')):
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split('.')[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {node.module.split('.')[0]}
            else:
                continue
            assert roots <= allowed, (os.path.basename(path), roots)


# what a machine without paddle sees: any import of paddle (or a submodule) fails
_HIDE_PADDLE = """
import sys
class _NoPaddle:
    def find_spec(self, name, path=None, target=None):
        if name == 'paddle' or name.startswith('paddle.'):
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
sys.meta_path.insert(0, _NoPaddle())
"""


def test_light_modules_import_and_register_without_paddle():
    code = _HIDE_PADDLE + """
import numpy as np
import paddlematting
import paddlematting.metrics as metrics
from paddlematting.datasets import composition, trimap
from paddlematting.config import manager
from paddlematting.utils import trimap_values
assert metrics.metric_names() == ['sad', 'mse', 'grad', 'conn', 'mae', 'maxf', 'smeasure'], metrics.metric_names()
assert manager.METRICS['SAD'] is metrics.SAD
alpha = np.zeros((8, 8), np.uint8)
assert metrics.build_metrics('sad')['sad'].update(alpha, alpha) == 0.0
assert trimap.trimap_from_alpha(alpha, 3).shape == (8, 8)
try:
    manager.MODELS['MODNet']
except ImportError as e:
    assert 'needs PaddlePaddle' in str(e), e
else:
    raise AssertionError('a model was built without paddle')
assert not [m for m in sys.modules if m == 'paddle' or m.startswith('paddle.')]
print('ok')
"""
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == 'ok'


def test_a_newly_registered_metric_is_offered_everywhere(monkeypatch):
    """The metric list is the registry: build_metrics, the defaults and val.py --metrics."""
    from paddlematting.cli import val as val_cli
    from paddlematting.metrics import RunningMeanMetric, metric_names
    from paddlematting.config import manager

    class MaxError(RunningMeanMetric):
        name = 'maxerr'

        def compute(self, pred, gt, unknown):
            return float(np.abs(pred - gt)[unknown].max())

    monkeypatch.setitem(manager.METRICS.components_dict, 'MaxError', MaxError)
    assert metric_names() == [*REGISTERED_NAMES, 'maxerr']
    assert build_metrics(['MaxErr'])['maxerr'].update(np.full((2, 2), 255), np.zeros((2, 2))) == 1.0
    args = val_cli.parse_args(['--config', 'c.yml', '--metrics', 'sad', 'maxerr'])
    assert args.metrics == ['sad', 'maxerr']
    assert val_cli.parse_args(['--config', 'c.yml']).metrics == [*METRIC_NAMES, 'maxerr']


# ---- on a real matte ------------------------------------------------------------------------

def test_real_matte_zero_for_itself_and_growing_with_blur(real_data_root):
    path = sorted(glob.glob(os.path.join(real_data_root, 'val', 'alpha', '*.png')))[0]
    gt = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    assert gt is not None and gt.ndim == 2
    for name, metric in build_metrics(METRIC_NAMES).items():
        assert metric.update(gt, gt) == 0.0, name

    values = {name: [] for name in METRIC_NAMES}
    for sigma in (1.0, 3.0, 6.0):
        blurred = cv2.GaussianBlur(gt, (0, 0), sigma)
        for name, metric in build_metrics(METRIC_NAMES).items():
            values[name].append(metric.update(blurred, gt))
    for name, series in values.items():
        assert 0 < series[0] < series[1] < series[2], (name, series)

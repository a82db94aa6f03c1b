"""GradientLoss and LaplacianLoss against independent numpy computations and hand cases."""
import numpy as np
import paddle
import pytest

from paddlematting.models.losses import GradientLoss, LaplacianLoss
from paddlematting.models.losses.laplacian import pyramid_kernel

EPS = 1e-6
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64) / 8


def t(a):
    return paddle.to_tensor(np.asarray(a, dtype='float32'))


def _correlate(plane, kernel):
    """'valid' cross-correlation of a 2-D array with a square kernel (what conv2d does)."""
    k = kernel.shape[0]
    h, w = plane.shape[0] - k + 1, plane.shape[1] - k + 1
    out = np.zeros((h, w))
    for i in range(k):
        for j in range(k):
            out += kernel[i, j] * plane[i:i + h, j:j + w]
    return out


def _np_sobel(x):
    """[N, C, H, W] -> gradient magnitude with replicated edges, float64."""
    out = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            p = np.pad(x[n, c].astype(np.float64), 1, mode='edge')
            gx, gy = _correlate(p, SOBEL_X), _correlate(p, SOBEL_X.T)
            out[n, c] = np.sqrt(gx ** 2 + gy ** 2 + EPS)
    return out


def _np_pyramid(x):
    kernel = pyramid_kernel()[0, 0].astype(np.float64)
    levels = []
    for _ in range(5):
        smoothed = _correlate(np.pad(x, 2, mode='edge'), kernel)
        levels.append(x - smoothed)
        h, w = smoothed.shape[0] // 2 * 2, smoothed.shape[1] // 2 * 2
        x = smoothed[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    return levels + [x]


def test_kernels_are_buffers_outside_the_state_dict():
    assert GradientLoss().state_dict() == {} and LaplacianLoss().state_dict() == {}
    assert not GradientLoss().parameters()


def test_gradient_loss_unmasked_matches_numpy(rng):
    logit = rng.random((2, 1, 9, 11)).astype(np.float32)
    label = rng.random((2, 1, 9, 11)).astype(np.float32)
    expected = np.abs(_np_sobel(logit) - _np_sobel(label)).mean()
    assert float(GradientLoss()(t(logit), t(label))) == pytest.approx(expected, rel=1e-5)
    # a 3-D label means the same
    assert float(GradientLoss()(t(logit), t(label[:, 0]))) == pytest.approx(expected, rel=1e-5)


def test_gradient_loss_masked_multiplies_before_the_gradient(rng):
    logit = rng.random((1, 1, 8, 8)).astype(np.float32)
    label = rng.random((1, 1, 8, 8)).astype(np.float32)
    mask = np.zeros((1, 1, 8, 8), bool)
    mask[..., 2:6, 1:5] = True
    m = mask.astype(np.float64)
    expected = np.abs(_np_sobel(logit * m) - _np_sobel(label * m)).sum() / (m.sum() + EPS)
    got = GradientLoss()(t(logit), t(label), paddle.to_tensor(mask))
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_gradient_of_a_vertical_step_edge():
    # a 0 -> 1 step: |gx| = (1 + 2 + 1) / 8 = 0.5 on the two columns next to the step
    step = np.zeros((1, 1, 4, 6), np.float32)
    step[..., 3:] = 1
    mag = GradientLoss().sobel(t(step)).numpy()[0, 0]
    np.testing.assert_allclose(mag[:, 2:4], np.sqrt(0.25 + EPS), rtol=1e-6)
    np.testing.assert_allclose(mag[:, [0, 1, 4, 5]], np.sqrt(EPS), rtol=1e-5)
    assert float(GradientLoss()(t(step), t(step))) == 0.0


def test_gradient_loss_sends_gradient_to_the_logit_only(rng):
    logit = t(rng.random((1, 1, 6, 6)))
    logit.stop_gradient = False
    GradientLoss()(logit, t(rng.random((1, 1, 6, 6))), t(np.ones((1, 1, 6, 6)))).backward()
    assert logit.grad is not None and np.abs(logit.grad.numpy()).sum() > 0


def test_pyramid_kernel_is_the_normalised_sum_of_profiles():
    k = pyramid_kernel()[0, 0]
    g = np.exp(-(np.arange(5) - 2.0) ** 2)
    expected = g[:, None] + g[None, :]
    np.testing.assert_allclose(k, expected / expected.sum(), rtol=1e-6)
    assert k.dtype == np.float32 and k.sum() == pytest.approx(1.0, abs=1e-6)


def test_laplacian_loss_matches_numpy(rng):
    logit = rng.random((1, 1, 32, 40)).astype(np.float32)
    label = rng.random((1, 1, 32, 40)).astype(np.float32)
    expected = sum(np.abs(a - b).mean() for a, b in
                   zip(_np_pyramid(label[0, 0]), _np_pyramid(logit[0, 0])))
    assert float(LaplacianLoss()(t(logit), t(label))) == pytest.approx(expected, rel=1e-5)
    mask = rng.random((1, 1, 32, 40)) > 0.5
    expected_masked = sum(np.abs(a - b).mean() for a, b in zip(
        _np_pyramid(label[0, 0] * mask[0, 0]), _np_pyramid(logit[0, 0] * mask[0, 0])))
    got = LaplacianLoss()(t(logit), t(label[:, 0]), paddle.to_tensor(mask))
    assert float(got) == pytest.approx(expected_masked, rel=1e-5)
    assert float(LaplacianLoss()(t(logit), t(logit))) == 0.0

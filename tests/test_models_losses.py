"""MRSD, the masked reduction and the composition loss on hand-computed cases."""
import numpy as np
import paddle
import pytest

from paddlematting.models.losses import MRSD, CompositionLoss, composite, masked_mean

EPS = 1e-6


def t(a):
    return paddle.to_tensor(np.asarray(a, dtype='float32'))


def test_mrsd_unmasked_is_mean_of_root_squares():
    logit = t([[[[0.0, 1.0], [0.5, 0.2]]]])
    label = t([[[[0.0, 0.0], [1.0, 0.2]]]])
    # errors 0, 1, 0.5, 0 -> sqrt(e^2 + eps)
    expected = (2 * np.sqrt(EPS) + np.sqrt(1 + EPS) + np.sqrt(0.25 + EPS)) / 4
    assert float(MRSD()(logit, label)) == pytest.approx(expected, rel=1e-6)


def test_mrsd_masked_counts_mask_pixels_only():
    logit = t([[[[0.0, 1.0], [0.5, 0.2]]]])
    label = t([[[[0.0, 0.0], [1.0, 0.2]]]])
    mask = paddle.to_tensor([[[[False, True], [True, False]]]])
    expected = (np.sqrt(1 + EPS) + np.sqrt(0.25 + EPS)) / (2 + EPS)
    assert float(MRSD()(logit, label, mask)) == pytest.approx(expected, rel=1e-6)
    # a 3-D label and a 3-D mask mean the same thing
    assert float(MRSD()(logit, label[:, 0], mask[:, 0])) == pytest.approx(expected, rel=1e-6)


def test_mrsd_gradient_and_mask_has_none():
    logit = t([[[[0.3, -0.4]]]])
    logit.stop_gradient = False
    mask = t([[[[1.0, 1.0]]]])
    mask.stop_gradient = False
    MRSD()(logit, t([[[[0.0, 0.0]]]]), mask).backward()
    x = np.array([0.3, -0.4])
    np.testing.assert_allclose(logit.grad.numpy().ravel(), x / np.sqrt(x ** 2 + EPS) / (2 + EPS),
                               rtol=1e-5)
    assert mask.grad is None


def test_masked_mean_broadcasts_mask_over_channels():
    values = t(np.arange(12).reshape(1, 3, 2, 2))
    mask = t([[[[1, 0], [0, 1]]]])
    # channels 0..2 at pixels (0,0) and (1,1): 0+3+4+7+8+11 = 33 over 2 mask pixels
    assert float(masked_mean(values, mask)) == pytest.approx(33 / (2 + EPS), rel=1e-6)
    assert float(masked_mean(values)) == pytest.approx(5.5, rel=1e-6)


def test_masked_mean_of_empty_mask_is_zero_not_nan():
    assert float(masked_mean(t(np.ones((1, 1, 2, 2))), t(np.zeros((1, 1, 2, 2))))) == 0.0


def test_composite_and_composition_loss():
    alpha = t(np.full((1, 1, 2, 2), 0.25))
    fg = t(np.ones((1, 3, 2, 2)))
    bg = t(-np.ones((1, 3, 2, 2)))
    np.testing.assert_allclose(composite(alpha, fg, bg).numpy(), -0.5)
    # the true image is the composite at alpha = 0.75 (value 0.5): error 1.0 everywhere
    img = composite(t(np.full((1, 1, 2, 2), 0.75)), fg, bg)
    loss = CompositionLoss()(alpha, fg, bg, img)
    assert float(loss) == pytest.approx(np.sqrt(1 + EPS), rel=1e-6)
    mask = t([[[[1, 0], [0, 0]]]])
    # masked: 3 channels summed over 1 mask pixel
    assert float(CompositionLoss()(alpha, fg, bg, img, mask)) == pytest.approx(
        3 * np.sqrt(1 + EPS) / (1 + EPS), rel=1e-6)
    # the true alpha reproduces the image: only the sqrt(eps) floor is left
    assert float(CompositionLoss()(t(np.full((1, 1, 2, 2), 0.75)), fg, bg, img)) == pytest.approx(
        np.sqrt(EPS), rel=1e-3)

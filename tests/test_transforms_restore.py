"""restore_alpha inverting trans_info (resize and padding)."""
import numpy as np
import pytest

from paddlematting.transforms import (Compose, LimitLong, Padding, Resize, ResizeToIntMult,
                                      restore_alpha)


def test_restore_padding_is_exact(rng):
    alpha = rng.random((37, 53)).astype(np.float32)
    data = Compose([Padding([64, 64])])({'img': np.zeros((37, 53, 3), np.uint8),
                                         'alpha': alpha * 255})
    assert data['alpha'].shape == (1, 64, 64)
    restored = restore_alpha(data['alpha'][0], data['trans_info'])
    assert restored.shape == (37, 53)
    np.testing.assert_allclose(restored, alpha, atol=1e-6)


def test_restore_resize_then_pad_returns_original_size(rng):
    # a smooth alpha survives a down/up resize round trip closely
    yy, xx = np.mgrid[0:90, 0:120]
    alpha = (127 + 120 * np.sin(xx / 15.0) * np.cos(yy / 20.0)).astype(np.uint8)
    ops = Compose([LimitLong(max_long=80), ResizeToIntMult(16), Padding([96, 96])])
    data = ops({'img': np.zeros((90, 120, 3), np.uint8), 'alpha': alpha})
    assert [op for op, _ in data['trans_info']] == ['resize', 'resize', 'padding']
    batch = np.stack([data['alpha'], data['alpha']])  # [N, 1, H, W]
    restored = restore_alpha(batch, data['trans_info'])
    assert restored.shape == (2, 1, 90, 120) and restored.dtype == np.float32
    assert np.abs(restored[0, 0] * 255 - alpha).mean() < 3.0


def test_restore_accepts_list_form_and_uint8():
    info = [['resize', [10, 20]], ['padding', [8, 8]]]  # as a DataLoader hands it back
    out = restore_alpha(np.full((16, 16), 200, np.uint8), info)
    assert out.shape == (10, 20) and out.dtype == np.uint8 and np.all(out == 200)
    assert restore_alpha(np.ones((4, 4)), []).shape == (4, 4)


def test_restore_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown trans_info op 'crop'"):
        restore_alpha(np.zeros((4, 4)), [('crop', (2, 2))])
    with pytest.raises(ValueError, match='cannot undo padding'):
        restore_alpha(np.zeros((4, 4)), [('padding', (8, 8))])


def test_restore_inverts_fixed_resize_shape():
    data = Compose([Resize([32, 32])])({'img': np.zeros((45, 61, 3), np.uint8)})
    restored = restore_alpha(np.zeros((1, 1, 32, 32), np.float32), data['trans_info'])
    assert restored.shape == (1, 1, 45, 61)

"""LoadImages (paths or arrays), Compose's final layout, and restore_alpha inverting trans_info."""
import cv2
import numpy as np
import pytest

from paddlematting.transforms import (Compose, LimitLong, LoadImages, Normalize, Padding, Resize,
                                      ResizeByShort, ResizeToIntMult, restore_alpha)


def test_load_images_from_paths_and_arrays_agree(real_data_root):
    import os
    fg = os.path.join(real_data_root, 'val', 'fg', 'GT05.png')
    alpha = os.path.join(real_data_root, 'val', 'alpha', 'GT05.png')
    from_paths = LoadImages()({'img': fg, 'alpha': alpha, 'gt_fields': ['alpha']})
    rgb = cv2.cvtColor(cv2.imread(fg), cv2.COLOR_BGR2RGB)
    assert np.array_equal(from_paths['img'], rgb)
    assert np.array_equal(from_paths['alpha'], cv2.imread(alpha, cv2.IMREAD_GRAYSCALE))
    from_arrays = LoadImages()({'img': rgb, 'alpha': from_paths['alpha'], 'gt_fields': ['alpha']})
    assert np.array_equal(from_arrays['img'], rgb)
    bgr = LoadImages(to_rgb=False)({'img': rgb, 'gt_fields': []})['img']
    assert np.array_equal(bgr, rgb[:, :, ::-1])


def test_prepare_in_memory_image_with_val_compose(rng):
    """What a predictor does: the val Compose on {'img', 'trimap'} arrays, then restore."""
    img = rng.integers(0, 256, (50, 70), dtype=np.uint8)  # grayscale input gets 3 channels
    trimap = np.full((50, 70), 127, np.uint8)  # 127 read as unknown
    prepared = Compose([LoadImages(), ResizeByShort(64), ResizeToIntMult(32), Normalize()])(
        {'img': img, 'trimap': trimap})
    assert prepared['img'].shape == (3, 64, 64) and prepared['img'].dtype == np.float32
    assert prepared['trimap'].shape == (1, 64, 64) and np.all(prepared['trimap'] == 128)
    assert prepared['gt_fields'] == ['trimap']
    assert prepared['trans_info'] == [('resize', (50, 70)), ('resize', (64, 90))]
    restored = restore_alpha(prepared['trimap'][None], prepared['trans_info'])
    assert restored.shape == (1, 1, 50, 70)


def test_load_images_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="sample\\['alpha'\\].*must match"):
        LoadImages()({'img': np.zeros((4, 4, 3), np.uint8), 'alpha': np.zeros((4, 5), np.uint8),
                      'gt_fields': ['alpha']})


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

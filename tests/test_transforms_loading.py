"""LoadImages (paths or arrays) and Compose's final layout."""
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

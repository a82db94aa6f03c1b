"""LoadImages: turn paths or in-memory arrays into the canonical HWC uint8 sample."""
from typing import Dict

import numpy as np

from ..config import manager
from ..utils.image_io import (as_gray_uint8, as_rgb_uint8, as_trimap_uint8, read_alpha, read_image,
                              read_trimap)
from .arg_checks import check_bool
from .sample_fields import COLOUR_KEYS, spatial_keys


@manager.TRANSFORMS.add_component
class LoadImages:
    """Load ``img`` and the gt fields from paths, or normalise arrays already in memory.

    ``img``, ``fg``, ``bg``: a path or an RGB array (uint8/uint16, gray/RGB/RGBA) become
    uint8 [H, W, 3]; ``alpha``: uint8 [H, W] 0..255; ``trimap``: uint8 [H, W] {0, 128, 255}.
    In-memory colour arrays are taken to be in RGB order (as ``read_image`` returns them).

    Args:
        to_rgb: keep RGB order (True); False reverses colour images to BGR.
    """

    def __init__(self, to_rgb: bool = True):
        self.to_rgb = check_bool(to_rgb, 'LoadImages.to_rgb')

    def __call__(self, data: Dict) -> Dict:
        for key in spatial_keys(data):
            value, source = data[key], f"sample['{key}']"
            is_path = isinstance(value, str)
            if key in COLOUR_KEYS:
                value = read_image(value) if is_path else as_rgb_uint8(value, source)
                if not self.to_rgb:
                    value = np.ascontiguousarray(value[:, :, ::-1])
            elif key == 'trimap':
                value = read_trimap(value) if is_path else as_trimap_uint8(value, source)
            else:
                value = read_alpha(value) if is_path else as_gray_uint8(value, source)
            data[key] = value
        h, w = data['img'].shape[:2]
        for key in data.get('gt_fields', []):
            if data[key].shape[:2] != (h, w):
                raise ValueError(f"LoadImages: sample['{key}'] has size {data[key].shape[:2]} but "
                                 f"sample['img'] has {(h, w)}; they must match.")
        return data

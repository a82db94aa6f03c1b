"""Helpers that apply one geometric change to ``img`` and every field in ``gt_fields`` alike.

Inside a transform pipeline (before Compose's final step) the sample holds HWC arrays:
``img``, ``fg``, ``bg`` [H, W, 3] (uint8 until Normalize, float32 after), ``alpha`` uint8 [H, W]
in 0..255 and ``trimap`` uint8 [H, W] in {0, 128, 255}.
"""
from typing import Dict, Iterator, List, Sequence, Tuple

import cv2
import numpy as np

# the keys that follow img through geometric transforms whenever a sample holds them
FIELD_KEYS = ('alpha', 'trimap', 'fg', 'bg')
# single-channel label maps: nearest interpolation keeps trimap values in {0, 128, 255}
NEAREST_KEYS = ('trimap',)
# colour images, which may be resized with another interpolation than alpha (see resize_sample)
COLOUR_KEYS = ('img', 'fg', 'bg')
# single-channel maps (0..255 alpha, {0, 128, 255} trimap), padded with a label value
LABEL_KEYS = ('alpha', 'trimap')


def spatial_keys(data: Dict) -> List[str]:
    """``['img']`` followed by the sample's gt_fields, i.e. every key to move together."""
    return ['img'] + [k for k in data.get('gt_fields', []) if k != 'img']


def iter_fields(data: Dict) -> Iterator[Tuple[str, np.ndarray]]:
    for key in spatial_keys(data):
        yield key, data[key]


def image_size(data: Dict) -> Tuple[int, int]:
    """(h, w) of the sample's img as python ints."""
    h, w = data['img'].shape[:2]
    return int(h), int(w)


def resize_sample(data: Dict, size_wh: Sequence[int], record: bool = True,
                  colour_interp: int = cv2.INTER_LINEAR) -> Dict:
    """Resize img and every gt field to ``size_wh`` = (w, h).

    Colour images (img, fg, bg) with ``colour_interp`` (an OpenCV flag, bilinear by default),
    alpha bilinearly, trimaps with nearest neighbour. When ``record`` is true,
    ``('resize', (h, w))`` with the size before resizing is appended to ``data['trans_info']``.
    """
    w, h = int(size_wh[0]), int(size_wh[1])
    if w < 1 or h < 1:
        raise ValueError(f'resize target (w, h) = ({w}, {h}) must be positive.')
    if record:
        data.setdefault('trans_info', []).append(('resize', image_size(data)))
    for key, value in iter_fields(data):
        if value.shape[1] == w and value.shape[0] == h:
            continue
        if key in NEAREST_KEYS:
            interp = cv2.INTER_NEAREST
        elif key in COLOUR_KEYS:
            interp = colour_interp
        else:
            interp = cv2.INTER_LINEAR
        data[key] = cv2.resize(value, (w, h), interpolation=interp)
    return data


def scaled_size(h: int, w: int, scale: float) -> Tuple[int, int]:
    """(w, h) after scaling both sides by ``scale``, rounded, at least 1 pixel."""
    return max(1, int(round(w * scale))), max(1, int(round(h * scale)))


def crop_sample(data: Dict, top: int, left: int, crop_h: int, crop_w: int) -> Dict:
    """Cut the window [top:top+crop_h, left:left+crop_w] out of img and every gt field."""
    for key, value in iter_fields(data):
        data[key] = np.ascontiguousarray(value[top:top + crop_h, left:left + crop_w])
    return data

"""Padding: pad bottom and right up to a target size; restore undoes it by cropping."""
from typing import Dict, Sequence

import cv2

from ..utils import manager
from .sample_fields import image_size, iter_fields


@manager.TRANSFORMS.add_component
class Padding:
    """Pad img and gt fields at the bottom/right to at least ``target_size`` = (w, h).

    Appends ``('padding', (h, w))`` (size before) to trans_info, even when no padding is
    needed. Colour images (img, fg, bg) are filled with ``im_padding_value``; alpha and
    trimap with ``label_padding_value`` (0: background).
    """

    def __init__(self, target_size, im_padding_value: Sequence[float] = (127.5, 127.5, 127.5),
                 label_padding_value: float = 0):
        if isinstance(target_size, int):
            target_size = (target_size, target_size)
        if not isinstance(target_size, (list, tuple)) or len(target_size) != 2:
            raise ValueError(f'Padding.target_size must be an int or a [w, h] pair, '
                             f'got {target_size!r}.')
        self.target_size = [int(v) for v in target_size]
        self.im_padding_value = im_padding_value
        self.label_padding_value = label_padding_value

    def __call__(self, data: Dict) -> Dict:
        h, w = image_size(data)
        data.setdefault('trans_info', []).append(('padding', (h, w)))
        pad_h = max(0, self.target_size[1] - h)
        pad_w = max(0, self.target_size[0] - w)
        if pad_h == 0 and pad_w == 0:
            return data
        for key, value in iter_fields(data):
            is_label = key in ('alpha', 'trimap')
            fill = self.label_padding_value if is_label else self.im_padding_value
            data[key] = cv2.copyMakeBorder(value, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT,
                                           value=fill)
        return data

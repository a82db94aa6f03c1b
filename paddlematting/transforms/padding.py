"""Padding: pad bottom and right up to a target size; restore undoes it by cropping."""
from typing import Dict, Sequence, Union

import cv2

from ..config import manager
from .arg_checks import parse_size_wh
from .sample_fields import LABEL_KEYS, image_size, iter_fields


@manager.TRANSFORMS.add_component
class Padding:
    """Pad img and gt fields at the bottom/right to at least ``target_size`` = (w, h).

    Appends ``('padding', (h, w))`` (size before) to trans_info, even when no padding is
    needed. Colour images (img, fg, bg) are filled with ``im_padding_value``; alpha and
    trimap with ``label_padding_value`` (0: background).

    Args:
        target_size: a [w, h] pair of positive integers, or one int n for [n, n]; a side
            already longer than the target is left as it is.
        im_padding_value: the fill of the colour images, one value per channel (0..255
            before Normalize).
        label_padding_value: the fill of alpha and trimap (0..255).
    """

    def __init__(self, target_size: Union[int, Sequence[int]],
                 im_padding_value: Sequence[float] = (127.5, 127.5, 127.5),
                 label_padding_value: float = 0):
        self.target_size = list(parse_size_wh(target_size, 'Padding.target_size', allow_int=True))
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
            is_label = key in LABEL_KEYS
            fill = self.label_padding_value if is_label else self.im_padding_value
            data[key] = cv2.copyMakeBorder(value, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT,
                                           value=fill)
        return data

"""Padding (up to a target size) and PadToMultiple (up to multiples of a divisor), both at
the bottom and right; restore undoes them by cropping."""
from typing import Dict, Sequence, Tuple, Union

import cv2
import numpy as np

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
        return _pad_fields(data, pad_h, pad_w, self.im_padding_value, self.label_padding_value)


def _pad_fields(data: Dict, pad_h: int, pad_w: int, colour_fill, label_fill) -> Dict:
    """Pad img and every gt field by (pad_h, pad_w) at the bottom/right with constants."""
    for key, value in iter_fields(data):
        fill = label_fill if key in LABEL_KEYS else colour_fill
        data[key] = cv2.copyMakeBorder(value, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT,
                                       value=fill)
    return data


def pad_to_multiple(h: int, w: int, divisor: int, pad_divisible_sides: bool) -> Tuple[int, int]:
    """(pad_h, pad_w) bringing (h, w) to multiples of ``divisor``.

    ``pad_divisible_sides`` False (Hugging Face's default processor): each side is padded to
    its next multiple, an already divisible side is left alone. True (the original ViTMatte
    repo and Hugging Face's slow processor): when either side is not divisible, both get
    ``divisor - side % divisor``, so an already divisible side grows by ``divisor``.
    """
    pad_h, pad_w = -h % divisor, -w % divisor
    if pad_divisible_sides and (pad_h or pad_w):
        pad_h, pad_w = divisor - h % divisor, divisor - w % divisor
    return pad_h, pad_w


@manager.TRANSFORMS.add_component
class PadToMultiple:
    """Zero-pad img and gt fields at the bottom/right to multiples of ``size_divisor``, as
    Hugging Face's ``VitMatteImageProcessor`` pads ``pixel_values`` (after normalising).

    Goes after Normalize: the colour images are then float32 and padded with 0 in normalised
    units (mid-grey for mean = std = 0.5, as the processor does); alpha and trimap with 0.
    Appends ``('padding', (h, w))`` (the size before) to trans_info, so the prediction is
    cropped back to the input size (which the processor leaves to its user).

    Args:
        size_divisor: the multiple (32 for ViTMatte).
        pad_divisible_sides: see :func:`pad_to_multiple` (False: Hugging Face's default).
    """

    def __init__(self, size_divisor: int = 32, pad_divisible_sides: bool = False):
        if isinstance(size_divisor, bool) or not isinstance(size_divisor, int) or size_divisor < 1:
            raise ValueError(f'PadToMultiple: size_divisor must be a positive integer, got '
                             f'{size_divisor!r}.')
        self.size_divisor = size_divisor
        self.pad_divisible_sides = bool(pad_divisible_sides)

    def __call__(self, data: Dict) -> Dict:
        if np.asarray(data['img']).dtype == np.uint8:
            raise ValueError('PadToMultiple: img is still uint8; put PadToMultiple after '
                             'Normalize in the transforms (it pads 0 in normalised units).')
        h, w = image_size(data)
        data.setdefault('trans_info', []).append(('padding', (h, w)))
        pad_h, pad_w = pad_to_multiple(h, w, self.size_divisor, self.pad_divisible_sides)
        if pad_h == 0 and pad_w == 0:
            return data
        return _pad_fields(data, pad_h, pad_w, 0.0, 0)

"""Random crops for training. Crops are not recorded in trans_info (they cannot be undone).

Crop sizes are (width, height) pairs, as in PaddleSeg; a list of pairs means one is drawn
uniformly per sample. An image smaller than the crop yields the whole image along that side
(follow with Resize or Padding when batches need one size). Randomness comes from numpy's
global generator, so ``np.random.seed`` makes a run reproducible.
"""
from typing import Dict, Sequence, Tuple, Union

import numpy as np

from ..config import manager
from .arg_checks import check_probability, parse_size_choices
from .sample_fields import crop_sample, image_size

# a crop size as configs give it: n (square), [w, h], or [[w, h], ...] to draw one per sample
CropSize = Union[int, Sequence[int], Sequence[Sequence[int]]]
DEFAULT_CROP_SIZES = ((320, 320), (480, 480), (640, 640))


def _draw_size(sizes: Sequence[Tuple[int, int]]) -> Tuple[int, int]:
    return sizes[np.random.randint(len(sizes))]


def _random_start(length: int, crop: int) -> int:
    return int(np.random.randint(length - crop + 1)) if length > crop else 0


@manager.TRANSFORMS.add_component
class RandomCrop:
    """Crop a window of ``crop_size`` (w, h) at a uniformly random position.

    Args:
        crop_size: an int n (an n x n window), a [w, h] pair, or a list of [w, h] pairs (one
            drawn uniformly per sample); positive integers. Stored as a list of (w, h).
    """

    def __init__(self, crop_size: CropSize = DEFAULT_CROP_SIZES):
        self.crop_size = parse_size_choices(crop_size, 'RandomCrop.crop_size')

    def __call__(self, data: Dict) -> Dict:
        crop_w, crop_h = _draw_size(self.crop_size)
        h, w = image_size(data)
        return crop_sample(data, _random_start(h, crop_h), _random_start(w, crop_w), crop_h, crop_w)


@manager.TRANSFORMS.add_component
class RandomCropByAlpha:
    """With probability ``prob``, centre the crop on a random unknown pixel (0 < alpha < 255).

    Otherwise (or when the alpha has no fractional pixel) the window is placed uniformly at
    random. Unlike a plain clamp at the top-left, the window is shifted to lie fully inside
    the image, so the crop keeps its full size whenever the image is large enough.

    Args:
        crop_size: as for :class:`RandomCrop`: n, [w, h] or a list of [w, h] pairs.
        prob: the probability of centring on an unknown pixel, in [0, 1].
    """

    def __init__(self, crop_size: CropSize = DEFAULT_CROP_SIZES, prob: float = 0.5):
        self.crop_size = parse_size_choices(crop_size, 'RandomCropByAlpha.crop_size')
        self.prob = check_probability(prob, 'RandomCropByAlpha.prob')

    def __call__(self, data: Dict) -> Dict:
        if 'alpha' not in data:
            raise KeyError("RandomCropByAlpha needs sample['alpha'] (uint8 [H, W]).")
        crop_w, crop_h = _draw_size(self.crop_size)
        h, w = image_size(data)
        top, left = _random_start(h, crop_h), _random_start(w, crop_w)
        if np.random.rand() < self.prob:
            alpha = np.asarray(data['alpha'])
            rows, cols = np.nonzero((alpha > 0) & (alpha < 255))
            if rows.size:
                i = np.random.randint(rows.size)
                top = int(np.clip(rows[i] - crop_h // 2, 0, max(0, h - crop_h)))
                left = int(np.clip(cols[i] - crop_w // 2, 0, max(0, w - crop_w)))
        return crop_sample(data, top, left, crop_h, crop_w)

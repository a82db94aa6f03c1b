"""The resize family. Every one appends ``('resize', (h, w))`` (size before) to trans_info.

Sizes given as pairs are (width, height), as in PaddleSeg. Images and alpha are resized
bilinearly (``Resize(random_interp=True)`` draws the images' interpolation instead), trimaps
with nearest neighbour. Random choices come from numpy's global generator.
"""
from typing import Dict, Optional, Sequence

import cv2
import numpy as np

from ..utils import manager
from .sample_fields import image_size, resize_sample, scaled_size

# what Resize(random_interp=True) draws from for img, fg and bg
RANDOM_INTERPS = (cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA,
                  cv2.INTER_LANCZOS4)


def _check_pair(name: str, value) -> Sequence[int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f'{name} must be a [width, height] pair, got {value!r}.')
    return [int(v) for v in value]


def _check_positive_int(name: str, value, allow_none: bool = False) -> Optional[int]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name} must be a positive integer, got {value!r}.')
    return value


@manager.TRANSFORMS.add_component
class Resize:
    """Resize to a fixed ``target_size`` = (w, h), ignoring aspect ratio.

    With ``random_interp`` (a training augmentation), img, fg and bg are resized with an
    interpolation drawn uniformly from :data:`RANDOM_INTERPS` for each sample (one draw for
    all three); alpha stays bilinear and trimaps nearest.
    """

    def __init__(self, target_size: Sequence[int] = (512, 512), random_interp: bool = False):
        self.target_size = _check_pair('Resize.target_size', target_size)
        if not isinstance(random_interp, bool):
            raise ValueError(f'Resize.random_interp must be true or false, got {random_interp!r}.')
        self.random_interp = random_interp

    def __call__(self, data: Dict) -> Dict:
        interp = cv2.INTER_LINEAR
        if self.random_interp:
            interp = RANDOM_INTERPS[np.random.randint(len(RANDOM_INTERPS))]
        return resize_sample(data, self.target_size, colour_interp=interp)


def _check_scale_range(name: str, value) -> Optional[Sequence[float]]:
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)
            or value[0] > value[1]):
        raise ValueError(f'{name} must be a [low, high] pair of positive numbers with low <= high, '
                         f'got {value!r}.')
    return [float(v) for v in value]


@manager.TRANSFORMS.add_component
class RandomResize:
    """Scale by a random factor, keeping the aspect ratio (a training augmentation).

    The factor is drawn uniformly from ``scale`` = [low, high] (1 when None), times, when
    ``size`` = (w, h) is given, the factor that makes the image just cover ``size``
    (both sides at least as long). PaddleSeg Matting's ``RandomResize`` arguments.
    """

    def __init__(self, size: Optional[Sequence[int]] = None,
                 scale: Optional[Sequence[float]] = None):
        self.size = None if size is None else _check_pair('RandomResize.size', size)
        if self.size is not None and min(self.size) < 1:
            raise ValueError(f'RandomResize.size must hold positive sides, got {size!r}.')
        self.scale = _check_scale_range('RandomResize.scale', scale)

    def __call__(self, data: Dict) -> Dict:
        h, w = image_size(data)
        factor = 1.0 if self.scale is None else float(np.random.uniform(*self.scale))
        if self.size is not None:
            factor *= max(self.size[0] / w, self.size[1] / h)
        return resize_sample(data, scaled_size(h, w, factor))


def _resize_side(data: Dict, target: int, use_long: bool) -> Dict:
    h, w = image_size(data)
    side = max(h, w) if use_long else min(h, w)
    return resize_sample(data, scaled_size(h, w, target / side))


@manager.TRANSFORMS.add_component
class ResizeByShort:
    """Scale so the short side equals ``short_size``, keeping the aspect ratio."""

    def __init__(self, short_size: int):
        self.short_size = _check_positive_int('ResizeByShort.short_size', short_size)

    def __call__(self, data: Dict) -> Dict:
        return _resize_side(data, self.short_size, use_long=False)


@manager.TRANSFORMS.add_component
class ResizeByLong:
    """Scale so the long side equals ``long_size``, keeping the aspect ratio."""

    def __init__(self, long_size: int):
        self.long_size = _check_positive_int('ResizeByLong.long_size', long_size)

    def __call__(self, data: Dict) -> Dict:
        return _resize_side(data, self.long_size, use_long=True)


@manager.TRANSFORMS.add_component
class ResizeToIntMult:
    """Shrink each side to the nearest multiple of ``mult_int`` below it (at least ``mult_int``).

    Networks that downsample by 32 need such sizes; a side shorter than ``mult_int`` is
    enlarged to ``mult_int`` rather than collapsed to zero.
    """

    def __init__(self, mult_int: int = 32):
        self.mult_int = _check_positive_int('ResizeToIntMult.mult_int', mult_int)

    def __call__(self, data: Dict) -> Dict:
        h, w = image_size(data)
        m = self.mult_int
        return resize_sample(data, (max(m, w - w % m), max(m, h - h % m)))


class _LimitSide:
    """Scale so one side lies in [min_size, max_size] (bounds optional), keeping the aspect."""

    use_long = True

    def __init__(self, max_size: Optional[int], min_size: Optional[int], names: Sequence[str]):
        self._max = _check_positive_int(names[0], max_size, allow_none=True)
        self._min = _check_positive_int(names[1], min_size, allow_none=True)
        if self._max is not None and self._min is not None and self._min > self._max:
            raise ValueError(f'{names[1]} ({self._min}) must not exceed {names[0]} ({self._max}).')

    def __call__(self, data: Dict) -> Dict:
        h, w = image_size(data)
        side = max(h, w) if self.use_long else min(h, w)
        target = side
        if self._max is not None and side > self._max:
            target = self._max
        elif self._min is not None and side < self._min:
            target = self._min
        # recorded even when nothing changes, so trans_info has one entry per resize transform
        return _resize_side(data, target, self.use_long)


@manager.TRANSFORMS.add_component
class LimitLong(_LimitSide):
    """Scale down when the long side exceeds ``max_long``, up when below ``min_long``."""

    use_long = True

    def __init__(self, max_long: Optional[int] = None, min_long: Optional[int] = None):
        super().__init__(max_long, min_long, ('LimitLong.max_long', 'LimitLong.min_long'))
        self.max_long, self.min_long = self._max, self._min


@manager.TRANSFORMS.add_component
class LimitShort(_LimitSide):
    """Scale down when the short side exceeds ``max_short``, up when below ``min_short``."""

    use_long = False

    def __init__(self, max_short: Optional[int] = None, min_short: Optional[int] = None):
        super().__init__(max_short, min_short, ('LimitShort.max_short', 'LimitShort.min_short'))
        self.max_short, self.min_short = self._max, self._min

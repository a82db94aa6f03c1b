"""The resize family. Every one appends ``('resize', (h, w))`` (size before) to trans_info.

Sizes given as pairs are (width, height), as in PaddleSeg. Every one takes ``max_long``
(default 4096, see ``size_limits``) and refuses an image whose long side would exceed it. Images and alpha are resized
bilinearly (``Resize(random_interp=True)`` draws the images' interpolation instead), trimaps
with nearest neighbour. Random choices come from numpy's global generator.
"""
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..config import manager
from .arg_checks import (check_bool, check_positive_int, check_positive_number, parse_interval,
                         parse_size_wh)
from .sample_fields import image_size, resize_sample, scaled_size
from .size_limits import check_max_long, check_resized_fits

# what Resize(random_interp=True) draws from for img, fg and bg
RANDOM_INTERPS = (cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA,
                  cv2.INTER_LANCZOS4)


@manager.TRANSFORMS.add_component
class Resize:
    """Resize to a fixed ``target_size`` = (w, h), ignoring aspect ratio.

    With ``random_interp`` (a training augmentation), img, fg and bg are resized with an
    interpolation drawn uniformly from :data:`RANDOM_INTERPS` for each sample (one draw for
    all three); alpha stays bilinear and trimaps nearest.
    """

    def __init__(self, target_size: Sequence[int] = (512, 512), random_interp: bool = False,
                 max_long: Optional[int] = None):
        self.target_size = list(parse_size_wh(target_size, 'Resize.target_size'))
        self.random_interp = check_bool(random_interp, 'Resize.random_interp')
        self.max_long = check_max_long(max_long, 'Resize.max_long')

    def __call__(self, data: Dict) -> Dict:
        interp = cv2.INTER_LINEAR
        if self.random_interp:
            interp = RANDOM_INTERPS[np.random.randint(len(RANDOM_INTERPS))]
        check_resized_fits(*image_size(data), self.target_size, self.max_long, 'Resize.max_long')
        return resize_sample(data, self.target_size, colour_interp=interp)


@manager.TRANSFORMS.add_component
class RandomResize:
    """Scale by a random factor, keeping the aspect ratio (a training augmentation).

    The factor is drawn uniformly from ``scale`` = [low, high] (1 when None), times, when
    ``size`` = (w, h) is given, the factor that makes the image just cover ``size``
    (both sides at least as long). PaddleSeg Matting's ``RandomResize`` arguments.
    """

    def __init__(self, size: Optional[Sequence[int]] = None,
                 scale: Optional[Sequence[float]] = None, max_long: Optional[int] = None):
        self.max_long = check_max_long(max_long, 'RandomResize.max_long')
        self.size = None if size is None else list(parse_size_wh(size, 'RandomResize.size'))
        self.scale = (None if scale is None
                      else list(parse_interval(scale, 'RandomResize.scale', check_positive_number)))

    def __call__(self, data: Dict) -> Dict:
        h, w = image_size(data)
        factor = 1.0 if self.scale is None else float(np.random.uniform(*self.scale))
        if self.size is not None:
            factor *= max(self.size[0] / w, self.size[1] / h)
        size_wh = scaled_size(h, w, factor)
        check_resized_fits(h, w, size_wh, self.max_long, 'RandomResize.max_long')
        return resize_sample(data, size_wh)


@manager.TRANSFORMS.add_component
class ResizeToIntMult:
    """Shrink each side to the nearest multiple of ``mult_int`` below it (at least ``mult_int``).

    Networks that downsample by 32 need such sizes; a side shorter than ``mult_int`` is
    enlarged to ``mult_int`` rather than collapsed to zero.
    """

    def __init__(self, mult_int: int = 32, max_long: Optional[int] = None):
        self.mult_int = check_positive_int(mult_int, 'ResizeToIntMult.mult_int')
        self.max_long = check_max_long(max_long, 'ResizeToIntMult.max_long')

    def __call__(self, data: Dict) -> Dict:
        h, w = image_size(data)
        m = self.mult_int
        size_wh = (max(m, w - w % m), max(m, h - h % m))
        check_resized_fits(h, w, size_wh, self.max_long, 'ResizeToIntMult.max_long')
        return resize_sample(data, size_wh)


class _SideLimits:
    """Scale so one side (the long one, or the short one when ``use_long`` is false) lies in
    [min_size, max_size], keeping the aspect ratio; either bound may be None (no limit).

    Appends ``('resize', (h, w))`` to trans_info even when the side already fits, so that
    trans_info has one entry per resize transform. Subclasses set ``use_long`` and name
    their arguments.
    """

    use_long = True

    def __init__(self, max_size: Optional[int], min_size: Optional[int], names: Tuple[str, str],
                 max_long: Optional[int] = None):
        """``names``: how errors name (max_size, min_size), e.g. ('LimitLong.max_long', ...);
        ``max_long``: the cap on the resized long side (see ``size_limits``)."""
        self._cap_name = names[0].split('.')[0] + '.max_long'
        self._cap = check_max_long(max_long, self._cap_name)
        self._max = check_positive_int(max_size, names[0], allow_none=True)
        self._min = check_positive_int(min_size, names[1], allow_none=True)
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
        size_wh = scaled_size(h, w, target / side)
        check_resized_fits(h, w, size_wh, self._cap, self._cap_name)
        return resize_sample(data, size_wh)


class _ExactSide(_SideLimits):
    """Scale so one side equals ``size`` exactly: the limits with min_size = max_size = size."""

    def __init__(self, size: int, name: str, max_long: Optional[int] = None):
        size = check_positive_int(size, name)
        super().__init__(size, size, (name, name), max_long)


@manager.TRANSFORMS.add_component
class ResizeByShort(_ExactSide):
    """Scale so the short side equals ``short_size`` (a positive int), keeping the aspect ratio."""

    use_long = False

    def __init__(self, short_size: int, max_long: Optional[int] = None):
        super().__init__(short_size, 'ResizeByShort.short_size', max_long)
        self.max_long = self._cap
        self.short_size = self._max


@manager.TRANSFORMS.add_component
class ResizeByLong(_ExactSide):
    """Scale so the long side equals ``long_size`` (a positive int), keeping the aspect ratio."""

    use_long = True

    def __init__(self, long_size: int, max_long: Optional[int] = None):
        super().__init__(long_size, 'ResizeByLong.long_size', max_long)
        self.max_long = self._cap
        self.long_size = self._max


@manager.TRANSFORMS.add_component
class LimitLong(_SideLimits):
    """Scale down when the long side exceeds ``max_long``, up when below ``min_long``."""

    use_long = True

    def __init__(self, max_long: Optional[int] = None, min_long: Optional[int] = None):
        # its own max_long is the cap (it scales down to it); None: the default cap
        super().__init__(max_long, min_long, ('LimitLong.max_long', 'LimitLong.min_long'),
                         max_long)
        self.max_long, self.min_long = self._max, self._min


@manager.TRANSFORMS.add_component
class LimitShort(_SideLimits):
    """Scale down when the short side exceeds ``max_short``, up when below ``min_short``."""

    use_long = False

    def __init__(self, max_short: Optional[int] = None, min_short: Optional[int] = None,
                 max_long: Optional[int] = None):
        super().__init__(max_short, min_short, ('LimitShort.max_short', 'LimitShort.min_short'),
                         max_long)
        self.max_long = self._cap
        self.max_short, self.min_short = self._max, self._min

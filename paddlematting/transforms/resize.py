"""The resize family. Every one appends ``('resize', (h, w))`` (size before) to trans_info.

Sizes given as pairs are (width, height), as in PaddleSeg. Images and alpha are resized
bilinearly, trimaps with nearest neighbour.
"""
from typing import Dict, Optional, Sequence

from ..utils import manager
from .sample_fields import image_size, resize_sample, scaled_size


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
    """Resize to a fixed ``target_size`` = (w, h), ignoring aspect ratio."""

    def __init__(self, target_size: Sequence[int] = (512, 512)):
        self.target_size = _check_pair('Resize.target_size', target_size)

    def __call__(self, data: Dict) -> Dict:
        return resize_sample(data, self.target_size)


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

"""Normalize: colour images to float32 ``(x / 255 - mean) / std``."""
from typing import Dict, Sequence

import numpy as np

from ..config import manager
from .sample_fields import COLOUR_KEYS, spatial_keys


@manager.TRANSFORMS.add_component
class Normalize:
    """Map img (and fg, bg when they are gt fields) from 0..255 to ``(x / 255 - mean) / std``.

    With the defaults (0.5, 0.5) the result lies in [-1, 1]. Output float32 [H, W, 3].
    """

    def __init__(self, mean: Sequence[float] = (0.5, 0.5, 0.5),
                 std: Sequence[float] = (0.5, 0.5, 0.5)):
        if not isinstance(mean, (list, tuple)) or not isinstance(std, (list, tuple)):
            raise ValueError(f'Normalize: mean and std must be lists, got {mean!r} and {std!r}.')
        if len(mean) != 3 or len(std) != 3 or any(s == 0 for s in std):
            raise ValueError(f'Normalize: mean and std need 3 values each and std no zero, '
                             f'got mean={mean!r} std={std!r}.')
        self.mean = mean
        self.std = std
        self._mean = np.asarray(mean, dtype=np.float32)
        self._std = np.asarray(std, dtype=np.float32)

    def __call__(self, data: Dict) -> Dict:
        for key in [k for k in spatial_keys(data) if k in COLOUR_KEYS]:
            data[key] = (np.asarray(data[key], dtype=np.float32) / np.float32(255.0)
                         - self._mean) / self._std
        return data

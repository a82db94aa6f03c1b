"""RandomHorizontalFlip: mirror img and every gt field together."""
from typing import Dict

import numpy as np

from ..utils import manager
from .sample_fields import iter_fields


@manager.TRANSFORMS.add_component
class RandomHorizontalFlip:
    """Mirror left-right with probability ``prob`` (numpy's global generator decides)."""

    def __init__(self, prob: float = 0.5):
        self.prob = float(prob)

    def __call__(self, data: Dict) -> Dict:
        if np.random.rand() < self.prob:
            for key, value in list(iter_fields(data)):
                data[key] = np.ascontiguousarray(value[:, ::-1])
        return data

"""RandomHorizontalFlip: mirror img and every gt field together."""
from typing import Dict

import numpy as np

from ..config import manager
from .arg_checks import check_probability
from .sample_fields import iter_fields


@manager.TRANSFORMS.add_component
class RandomHorizontalFlip:
    """Mirror left-right with probability ``prob`` in [0, 1] (numpy's global generator decides)."""

    def __init__(self, prob: float = 0.5):
        self.prob = check_probability(prob, 'RandomHorizontalFlip.prob')

    def __call__(self, data: Dict) -> Dict:
        if np.random.rand() < self.prob:
            for key, value in list(iter_fields(data)):
                data[key] = np.ascontiguousarray(value[:, ::-1])
        return data

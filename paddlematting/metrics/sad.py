"""SAD: sum of absolute differences over the unknown region, in thousands."""
import numpy as np

from ..config import manager
from .base import RunningMeanMetric


@manager.METRICS.add_component
class SAD(RunningMeanMetric):
    """Sum of |pred - gt| (alphas in [0, 1]) over the unknown pixels, divided by 1000.

    >>> import numpy as np
    >>> pred = np.array([[0, 255], [255, 255]], np.uint8)
    >>> gt = np.array([[0, 255], [255, 0]], np.uint8)
    >>> SAD().update(pred, gt)  # one pixel off by 1
    0.001
    >>> SAD().update(pred, gt, trimap=np.array([[0, 128], [128, 0]], np.uint8))  # it is known
    0.0
    """

    name = 'sad'

    def compute(self, pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> float:
        return np.abs(pred - gt)[unknown].sum() / 1000.0

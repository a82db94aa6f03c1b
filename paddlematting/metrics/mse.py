"""MSE: mean squared alpha error over the unknown region."""
import numpy as np

from ..config import manager
from .base import RunningMeanMetric


@manager.METRICS.add_component
class MSE(RunningMeanMetric):
    """Mean of (pred - gt)^2 (alphas in [0, 1]) over the unknown pixels.

    An image without unknown pixels scores 0, as in the reference implementations.

    >>> import numpy as np
    >>> MSE().update(np.array([[0, 255]], np.uint8), np.array([[0, 0]], np.uint8))
    0.5
    """

    name = 'mse'

    def compute(self, pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> float:
        n_unknown = np.count_nonzero(unknown)
        if n_unknown == 0:
            return 0.0
        return np.square(pred - gt)[unknown].sum() / n_unknown

"""SAD: sum of absolute differences over the unknown region, in thousands."""
import numpy as np

from ..config import manager
from .base import RunningMeanMetric


@manager.METRICS.add_component
class SAD(RunningMeanMetric):
    """Sum of |pred - gt| (alphas in [0, 1]) over the unknown pixels, divided by 1000."""

    name = 'sad'

    def compute(self, pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> float:
        return np.abs(pred - gt)[unknown].sum() / 1000.0

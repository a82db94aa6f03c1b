"""Conn: connectivity error over the unknown region, in thousands."""
import numpy as np
from scipy import ndimage

from ..config import manager
from .base import RunningMeanMetric

# 4-connectivity: edge neighbours only
_FOUR_NEIGHBOURS = ndimage.generate_binary_structure(2, 1)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Bool [H, W]: the largest 4-connected component of a bool mask (all False if empty).

    Ties go to the component met first in raster order.

    >>> import numpy as np
    >>> mask = np.array([[1, 1, 0], [0, 0, 0], [0, 1, 1]], bool)
    >>> largest_component(mask).astype(int).tolist()
    [[1, 1, 0], [0, 0, 0], [0, 0, 0]]
    """
    labels, n_components = ndimage.label(mask, structure=_FOUR_NEIGHBOURS)
    if n_components == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels.ravel(), minlength=n_components + 1)
    sizes[0] = 0  # label 0 is the background, never a component
    return labels == np.argmax(sizes)


def connectivity_levels(pred: np.ndarray, gt: np.ndarray, step: float = 0.1) -> np.ndarray:
    """Per pixel, the last threshold at which it still belongs to the common component.

    For thresholds t_i = i * step (i = 1 .. 1/step), the common component is the largest
    4-connected component of (gt >= t_i) & (pred >= t_i). A pixel that first falls outside
    it at t_i gets t_{i-1}; a pixel that never does gets 1.

    Args:
        pred, gt: float64 [H, W] alphas in [0, 1].
    Returns:
        float64 [H, W] in [0, 1].

    >>> import numpy as np
    >>> alpha = np.array([[1.0, 0.5], [0.5, 0.0]])
    >>> connectivity_levels(alpha, alpha).tolist()  # the prediction is the truth
    [[1.0, 0.5], [0.5, 0.0]]
    """
    n_steps = int(round(1.0 / step))
    if n_steps < 1 or abs(n_steps * step - 1.0) > 1e-9:
        raise ValueError(f'step must split [0, 1] into a whole number of levels (e.g. 0.1), '
                         f'got {step}.')
    # i / n_steps rather than i * step: 6 * 0.1 is 0.6000000000000001, which would drop an
    # alpha of exactly 153/255 = 0.6 from the 0.6 level, against the convention (and reference)
    thresholds = np.arange(n_steps + 1) / n_steps
    # a pixel that stayed in the component for the first k thresholds and left at t_{k+1}
    # has level t_k = thresholds[k]; one that never left has k = n_steps, level 1
    still_in = np.ones(gt.shape, dtype=bool)
    levels_kept = np.zeros(gt.shape, dtype=np.uint8)
    for threshold in thresholds[1:]:
        still_in &= largest_component((gt >= threshold) & (pred >= threshold))
        levels_kept += still_in
    return thresholds[levels_kept]


def connectivity_phi(alpha: np.ndarray, levels: np.ndarray, min_gap: float = 0.15) -> np.ndarray:
    """phi = 1 - (alpha - l) where alpha exceeds its level l by at least min_gap, else 1.

    >>> import numpy as np
    >>> connectivity_phi(np.array([0.9, 0.5]), np.array([0.6, 0.45])).round(6).tolist()
    [0.7, 1.0]
    """
    gap = alpha - levels
    return 1.0 - gap * (gap >= min_gap)


@manager.METRICS.add_component
class Conn(RunningMeanMetric):
    """Sum over the unknown pixels of |phi(gt) - phi(pred)|, divided by 1000 (step 0.1).

    >>> import numpy as np
    >>> gt = np.array([[255, 255], [255, 0]], np.uint8)
    >>> Conn().update(gt, gt)
    0.0
    >>> round(Conn().update(np.array([[255, 255], [102, 0]], np.uint8), gt), 6)
    0.0006
    """

    name = 'conn'
    step = 0.1

    def compute(self, pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> float:
        levels = connectivity_levels(pred, gt, self.step)
        difference = np.abs(connectivity_phi(gt, levels) - connectivity_phi(pred, levels))
        return difference[unknown].sum() / 1000.0

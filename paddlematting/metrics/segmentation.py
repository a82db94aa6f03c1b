"""The segmentation metrics BiRefNet and the DIS/SOD literature report, over the whole image:
MAE, max F-measure (β² = 0.3) and S-measure (Fan et al., "Structure-measure", ICCV 2017),
in the conventions of the common evaluation code (PySODMetrics): the ground truth is
binarised at 0.5 for max F and S-measure, the prediction stays soft.

With a trimap, the prediction is forced in the known regions as for every metric; the
unknown mask is not used (these metrics score the whole image). They are not in the default
metric list: ask for them by name (``val.py --metrics mae maxf smeasure``).
"""
import numpy as np

from ..config import manager
from .base import RunningMeanMetric

_EPS = np.finfo(np.float64).eps
_BETA2 = 0.3  # the weight of precision in the F-measure of the SOD/DIS benchmarks
_LEVELS = 256


@manager.METRICS.add_component
class MAE(RunningMeanMetric):
    """Mean |pred − gt| over every pixel (alphas in [0, 1]).

    >>> import numpy as np
    >>> MAE().update(np.array([[0, 255]], np.uint8), np.array([[0, 0]], np.uint8))
    0.5
    """

    name = 'mae'
    default = False

    def compute(self, pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> float:
        return float(np.abs(pred - gt).mean())


def max_f_measure(pred: np.ndarray, gt: np.ndarray) -> float:
    """The largest F_β over the 256 thresholds ``pred ≥ t/255`` (pred float [0,1], gt bool)."""
    levels = np.clip(np.round(pred * (_LEVELS - 1)), 0, _LEVELS - 1).astype(np.int64)
    # pixels at each level, foreground / background, counted from the highest level down:
    # entry i is what a threshold at level 255 − i keeps
    fg = np.cumsum(np.bincount(levels[gt], minlength=_LEVELS)[::-1])
    bg = np.cumsum(np.bincount(levels[~gt], minlength=_LEVELS)[::-1])
    precision = fg / np.maximum(fg + bg, 1)
    recall = fg / max(int(gt.sum()), 1)
    f = (1 + _BETA2) * precision * recall / np.maximum(_BETA2 * precision + recall, _EPS)
    return float(f.max())


@manager.METRICS.add_component
class MaxFMeasure(RunningMeanMetric):
    """max F-measure (higher is better).

    >>> import numpy as np
    >>> gt = np.array([[255, 0], [0, 0]], np.uint8)
    >>> round(MaxFMeasure().update(np.array([[255, 255], [0, 0]], np.uint8), gt), 4)
    0.5652
    """

    name = 'maxf'
    lower_is_better = False
    default = False

    def compute(self, pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> float:
        return max_f_measure(pred, gt > 0.5)


def _object_score(values: np.ndarray) -> float:
    mean = values.mean()
    std = values.std(ddof=1) if values.size > 1 else 0.0
    return 2.0 * mean / (mean * mean + 1.0 + std + _EPS)


def _region_ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    """Fan et al.'s SSIM of one region (gt as 0/1 floats)."""
    n = pred.size
    x, y = pred.mean(), gt.mean()
    var_x = np.square(pred - x).sum() / (n - 1 + _EPS)
    var_y = np.square(gt - y).sum() / (n - 1 + _EPS)
    cov = ((pred - x) * (gt - y)).sum() / (n - 1 + _EPS)
    alpha = 4 * x * y * cov
    beta = (x * x + y * y) * (var_x + var_y)
    if alpha != 0:
        return float(alpha / (beta + _EPS))
    return 1.0 if beta == 0 else 0.0


def _centroid(gt: np.ndarray):
    """The split point (column, row), 1-based as the reference code rounds it."""
    h, w = gt.shape
    area = gt.sum()
    if area == 0:
        return int(np.round(w / 2)), int(np.round(h / 2))
    col = np.round((gt.sum(axis=0) * np.arange(w)).sum() / area)
    row = np.round((gt.sum(axis=1) * np.arange(h)).sum() / area)
    return int(col) + 1, int(row) + 1


def s_measure(pred: np.ndarray, gt: np.ndarray, alpha: float = 0.5) -> float:
    """S = α·S_object + (1 − α)·S_region (pred float [0,1], gt bool [H, W])."""
    share = gt.mean()
    if share == 0:
        return float(1.0 - pred.mean())
    if share == 1:
        return float(pred.mean())
    s_object = share * _object_score(pred[gt]) + (1 - share) * _object_score(1.0 - pred[~gt])
    x, y = _centroid(gt)
    g = gt.astype(np.float64)
    s_region = 0.0
    for rows, cols in ((slice(0, y), slice(0, x)), (slice(0, y), slice(x, None)),
                       (slice(y, None), slice(0, x)), (slice(y, None), slice(x, None))):
        part = g[rows, cols]
        if part.size:
            s_region += part.size / g.size * _region_ssim(pred[rows, cols], part)
    return float(max(0.0, alpha * s_object + (1 - alpha) * s_region))


@manager.METRICS.add_component
class SMeasure(RunningMeanMetric):
    """S-measure, α = 0.5 (higher is better).

    >>> import numpy as np
    >>> gt = np.zeros((8, 8), np.uint8); gt[2:6, 2:6] = 255
    >>> round(SMeasure().update(gt, gt), 6), round(SMeasure().update(255 - gt, gt), 3) < 0.2
    (1.0, True)
    """

    name = 'smeasure'
    lower_is_better = False
    default = False

    def compute(self, pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> float:
        return s_measure(pred, gt > 0.5)

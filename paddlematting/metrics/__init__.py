"""Matting metrics (pure numpy/scipy): SAD, MSE, Grad, Conn under the DIM benchmark conventions.

Each metric has ``update(pred, gt, trimap=None) -> float`` (that image's error) and
``evaluate() -> float`` (mean over the images so far); pred and gt are alphas [H, W] in
[0, 255], trimap [H, W] in {0, 128, 255}.
"""
from typing import Dict, List

from .base import RunningMeanMetric, prepare_inputs
from .conn import Conn
from .grad import Grad
from .mse import MSE
from .sad import SAD

METRIC_CLASSES = {cls.name: cls for cls in (SAD, MSE, Grad, Conn)}


def build_metrics(names: List[str]) -> Dict[str, RunningMeanMetric]:
    """Fresh metric objects keyed by lower-case name, in the order given.

    Args:
        names: metric names, case-insensitive, each one of 'sad', 'mse', 'grad', 'conn'.
    """
    if isinstance(names, str):
        names = [names]
    metrics = {}
    for name in names:
        key = str(name).lower()
        if key not in METRIC_CLASSES:
            raise ValueError(f'Unknown metric name {name!r}; expected one of '
                             f'{sorted(METRIC_CLASSES)}.')
        metrics[key] = METRIC_CLASSES[key]()
    return metrics


__all__ = ['SAD', 'MSE', 'Grad', 'Conn', 'RunningMeanMetric', 'build_metrics',
           'prepare_inputs', 'METRIC_CLASSES']

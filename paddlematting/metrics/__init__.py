"""Matting metrics (numpy/scipy only, importable without paddle): SAD, MSE, Grad, Conn under
the DIM benchmark conventions, and the segmentation metrics of the DIS/SOD benchmarks (MAE,
max F-measure, S-measure; ``segmentation.py``) over the whole image.

Each metric has ``update(pred, gt, trimap=None) -> float`` (that image's error) and
``evaluate() -> float`` (mean over the images so far); pred and gt are alphas [H, W] in
[0, 255], trimap [H, W] in {0, 128, 255}. Metrics are registered in ``manager.METRICS``;
the names ``val.py --metrics`` and ``best_metric`` accept are the registry's.
"""
from typing import Dict, List, Sequence, Union

from ..config import manager
from .base import RunningMeanMetric, prepare_inputs
# registration order is the default metric order (val.py's CSV columns): SAD, MSE, Grad, Conn
from .sad import SAD  # noqa: I001
from .mse import MSE
from .grad import Grad
from .conn import Conn
from .segmentation import MAE, MaxFMeasure, SMeasure


def metric_classes() -> Dict[str, type]:
    """Every registered metric class by its lower-case ``name``, in registration order.

    >>> metric_classes()['sad'] is SAD
    True
    """
    return {cls.name: cls for cls in manager.METRICS.components_dict.values()}


def metric_names() -> List[str]:
    """The registered metrics' lower-case names (the default metric list).

    >>> metric_names()
    ['sad', 'mse', 'grad', 'conn', 'mae', 'maxf', 'smeasure']
    """
    return list(metric_classes())


def default_metric_names() -> List[str]:
    """The names computed when no list is given: every registered metric that declares
    ``default`` (the matting errors; the segmentation scores are asked for by name).

    >>> default_metric_names()
    ['sad', 'mse', 'grad', 'conn']
    """
    return [name for name, cls in metric_classes().items() if getattr(cls, 'default', True)]


def build_metrics(names: Union[str, Sequence[str]]) -> Dict[str, RunningMeanMetric]:
    """Fresh metric objects keyed by lower-case name, in the order given.

    Args:
        names: registered metric names, case-insensitive (see ``metric_names()``).
    Raises:
        ValueError: a name is not registered.

    >>> build_metrics(['SAD', 'mse'])
    {'sad': SAD(count=0), 'mse': MSE(count=0)}
    >>> build_metrics('maxerr')
    Traceback (most recent call last):
    ...
    ValueError: Unknown metric name 'maxerr'; expected one of ['conn', 'grad', 'mae', 'maxf', 'mse', 'sad', 'smeasure'].
    """
    if isinstance(names, str):
        names = [names]
    classes = metric_classes()
    metrics = {}
    for name in names:
        key = str(name).lower()
        if key not in classes:
            raise ValueError(f'Unknown metric name {name!r}; expected one of {sorted(classes)}.')
        metrics[key] = classes[key]()
    return metrics


__all__ = ['SAD', 'MSE', 'Grad', 'Conn', 'MAE', 'MaxFMeasure', 'SMeasure', 'RunningMeanMetric', 'build_metrics', 'metric_names',
           'metric_classes', 'default_metric_names', 'prepare_inputs']

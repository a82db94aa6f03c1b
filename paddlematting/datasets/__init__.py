"""Datasets and the numpy helpers they use.

The helpers (``trimap``, ``composition``, ``collate``) need only numpy and OpenCV and are
imported here; ``MattingDataset`` (a ``paddle.io.Dataset``, registered in
``manager.DATASETS``) is imported on first use, so the helpers work without paddle.
"""
import importlib
from typing import Any

from .collate import collate_samples
from .composition import composite_on_background, fit_background
from .trimap import eval_trimap, random_trimap, trimap_from_alpha

_PADDLE_ATTRIBUTES = {'MattingDataset': '.matting_dataset', 'ListEntry': '.matting_dataset',
                      'Composition1K': '.benchmark_sets', 'Distinctions646': '.benchmark_sets',
                      'DIS5K': '.dis5k'}

__all__ = ['collate_samples', 'composite_on_background', 'fit_background', 'eval_trimap',
           'random_trimap', 'trimap_from_alpha', 'MattingDataset', 'ListEntry', 'Composition1K',
           'Distinctions646', 'DIS5K']


def __getattr__(name: str) -> Any:
    if name in _PADDLE_ATTRIBUTES:
        return getattr(importlib.import_module(_PADDLE_ATTRIBUTES[name], __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

"""What every matting metric shares: input checks, the trimap convention, the running mean.

The convention is the DIM benchmark's (as used by PaddleSeg Matting and MMagic): the
prediction is forced to the known values where the trimap is 0 or 255, and errors are
summed over the unknown region (trimap == 128) only; without a trimap every pixel counts
as unknown.
"""
from typing import Optional, Tuple

import numpy as np

from ..utils.trimap_values import (TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN,
                                   TRIMAP_VALUES, force_known_regions)


def _as_alpha(array: np.ndarray, what: str) -> np.ndarray:
    """Check a 0..255 alpha image and return it as float64 in [0, 1]."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f'{what} must be a 2-D alpha image [H, W], got shape {array.shape}.')
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f'{what} must hold integer or float alpha values in [0, 255], '
                        f'got dtype {array.dtype}.')
    alpha = array.astype(np.float64)
    if alpha.size and (alpha.min() < 0 or alpha.max() > 255):
        raise ValueError(f'{what} must hold alpha values in [0, 255], got values in '
                         f'[{alpha.min()}, {alpha.max()}].')
    return alpha / 255.0


def prepare_inputs(pred: np.ndarray, gt: np.ndarray, trimap: Optional[np.ndarray] = None
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate one image's inputs and apply the trimap convention.

    Args:
        pred: predicted alpha [H, W], uint8 or float, values in [0, 255].
        gt: ground-truth alpha [H, W], uint8 or float, values in [0, 255].
        trimap: optional [H, W] with values in {0, 128, 255}.

    Returns:
        (pred, gt, unknown): pred and gt as float64 [H, W] in [0, 1], pred set to 0 where
        the trimap is 0 and to 1 where it is 255; unknown is a bool [H, W] mask of the pixels
        that count (trimap == 128, or everywhere when no trimap is given).

    >>> import numpy as np
    >>> pred = np.array([[10, 128], [0, 255]], np.uint8)
    >>> trimap = np.array([[0, 128], [255, 128]], np.uint8)
    >>> p, g, unknown = prepare_inputs(pred, pred, trimap)
    >>> p.round(3).tolist()  # forced to 0 under trimap 0 and to 1 under trimap 255
    [[0.0, 0.502], [1.0, 1.0]]
    >>> unknown.tolist()
    [[False, True], [False, True]]
    """
    pred_shape, gt_shape = np.shape(pred), np.shape(gt)
    trimap_shape = None if trimap is None else np.shape(trimap)
    if pred_shape != gt_shape or (trimap is not None and trimap_shape != gt_shape):
        raise ValueError(f'pred, gt and trimap must have the same shape [H, W], got pred '
                         f'{pred_shape}, gt {gt_shape} and trimap {trimap_shape}.')
    pred = _as_alpha(pred, 'pred')
    gt = _as_alpha(gt, 'gt')
    if trimap is None:
        return pred, gt, np.ones(gt.shape, dtype=bool)

    trimap = np.asarray(trimap)
    background = trimap == TRIMAP_BACKGROUND
    foreground = trimap == TRIMAP_FOREGROUND
    unknown = trimap == TRIMAP_UNKNOWN
    if not np.all(background | foreground | unknown):
        bad = np.unique(trimap[~(background | foreground | unknown)])[:5]
        raise ValueError(f'trimap must only hold the values {TRIMAP_VALUES}, '
                         f'also found {bad.tolist()}.')
    # the known regions are given to the model, so its output there must not count as error
    # nor change the gradient and connectivity computed near the unknown border
    return force_known_regions(pred, trimap, opaque=1.0), gt, unknown


class RunningMeanMetric:
    """Base of the matting metrics: a per-image error and its mean over the images seen.

    Subclasses set ``name`` (lower-case, what ``val.py --metrics`` and ``best_metric`` use),
    implement ``compute``, and register with ``@manager.METRICS.add_component``.
    """

    name = ''
    # an error: the trainer keeps the checkpoint with the lowest value as best_model
    lower_is_better = True
    # computed when no metric list is given (val.py, the trainer's evaluation); False for
    # metrics asked for by name (the segmentation scores)
    default = True

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far."""
        self._total = 0.0
        self.count = 0

    def compute(self, pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> float:
        """This image's error from prepared inputs (see ``prepare_inputs``)."""
        raise NotImplementedError

    def update(self, pred: np.ndarray, gt: np.ndarray,
               trimap: Optional[np.ndarray] = None) -> float:
        """Add one image and return its error.

        Args:
            pred: predicted alpha [H, W], uint8 or float, values in [0, 255].
            gt: ground-truth alpha [H, W], uint8 or float, values in [0, 255].
            trimap: optional [H, W] in {0, 128, 255}; None counts every pixel as unknown.

        >>> import numpy as np
        >>> from paddlematting.metrics import SAD
        >>> sad = SAD()
        >>> sad.update(np.full((10, 10), 255, np.uint8), np.zeros((10, 10), np.uint8))
        0.1
        >>> sad.update(np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8))
        0.0
        >>> sad.evaluate(), sad.count
        (0.05, 2)
        """
        value = float(self.compute(*prepare_inputs(pred, gt, trimap)))
        self._total += value
        self.count += 1
        return value

    def evaluate(self) -> float:
        """Mean of the per-image errors over every ``update`` since the last reset."""
        if self.count == 0:
            raise RuntimeError(f'{type(self).__name__}.evaluate() was called before any '
                               f'update(); give it at least one image first.')
        return self._total / self.count

    def __repr__(self) -> str:
        return f'{type(self).__name__}(count={self.count})'

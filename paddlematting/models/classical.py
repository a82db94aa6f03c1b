"""Classical trimap-based matting (closed-form, KNN, learning-based, fast/large-kernel, random
walks) as parameter-free models, under PaddleSeg Matting's names.

The solvers are pymatting's (``estimate_alpha_cf``/``knn``/``lbdm``/``lkm``/``rw``): each
solves a sparse linear system built from the image around the trimap's unknown region, per
image, on the CPU. The classes wrap them in the toolkit's model convention, so val.py and
predict.py run them like any other model:

    forward({'img': float32 [N,3,H,W] normalised, 'trimap': float32 [N,1,H,W] in {0,128,255}})
        -> alpha float32 [N,1,H,W] in [0,1]

They have no parameters (``trainable = False``: train.py refuses them) and run numpy code
that cannot be traced into a static program (``exportable = False``: export.py refuses them,
predict.py/val.py run them in dygraph). pymatting is an optional dependency
(``pip install paddlematting[classical]``), imported on the first call.
"""
import contextlib
import io
import logging
import threading
from typing import Callable, Dict, Sequence

import numpy as np
import paddle
import paddle.nn as nn

from ..config import manager

__all__ = ['ClassicalMatting', 'CloseFormMatting', 'KNNMatting', 'LearningBasedMatting',
           'FastMatting', 'RandomWalksMatting']

logger = logging.getLogger(__name__)

# what the val pipeline's Normalize uses by default (paddlematting.transforms.Normalize):
# img = (x / 255 - mean) / std; a config that changes Normalize must give the same values here
DEFAULT_MEAN = (0.5, 0.5, 0.5)
DEFAULT_STD = (0.5, 0.5, 0.5)
# undoing the normalisation may overshoot [0, 1] by float32 rounding; more means another mean/std
_RANGE_SLACK = 1e-3

_first_use = threading.Lock()
_announced = False


def _pymatting():
    """The pymatting module. Before its first use in a process one line is logged: numba
    compiles pymatting's code then (at import and first calls), tens of seconds the first
    time on a machine (cached on disk after), and the tool must not look frozen meanwhile."""
    global _announced
    with _first_use:
        if not _announced:
            logger.info('First use of pymatting\'s solvers in this process: their numba code '
                        'compiles now, which takes tens of seconds the first time on a machine.')
            _announced = True
        try:
            import pymatting
        except ImportError as error:
            raise ImportError('The classical matting models need pymatting: install it with '
                              '`pip install paddlematting[classical]` (or `pip install pymatting`).') from error
        return pymatting


class ClassicalMatting(nn.Layer):
    """Base class: undo Normalize, call ``solver_name`` of pymatting per image, return alpha.

    Args:
        mean, std: the val pipeline's Normalize values (default 0.5, 0.5: Normalize's own
            defaults), to recover the image in [0, 1] from the normalised ``img``.
        **solver_kwargs: passed to the pymatting solver unchanged (as PaddleSeg does), e.g.
            ``laplacian_kwargs: {epsilon: 1.0e-7}`` or ``cg_kwargs: {maxiter: 2000}``.
    """
    input_names = ('img', 'trimap')
    trainable = False
    exportable = False
    solver_name: str = ''

    def __init__(self, mean: Sequence[float] = DEFAULT_MEAN, std: Sequence[float] = DEFAULT_STD,
                 **solver_kwargs):
        super().__init__()
        if len(mean) != 3 or len(std) != 3 or any(float(s) == 0 for s in std):
            raise ValueError(f'{type(self).__name__}: mean and std need 3 values each and std no '
                             f'zero, got mean={mean!r} std={std!r}.')
        self.mean = np.asarray(mean, np.float64).reshape(3, 1, 1)
        self.std = np.asarray(std, np.float64).reshape(3, 1, 1)
        self.solver_kwargs: Dict = dict(solver_kwargs)

    def solver(self) -> Callable:
        return getattr(_pymatting(), self.solver_name)

    def image_from_input(self, img: np.ndarray) -> np.ndarray:
        """Normalised [3,H,W] -> float64 [H,W,3] RGB in [0, 1] on the 8-bit grid.

        The photos are 8-bit, so snapping to multiples of 1/255 gives back exactly the image
        a direct pymatting call on ``photo / 255`` sees, free of float32 rounding.
        """
        image = img.astype(np.float64) * self.std + self.mean
        low, high = float(image.min()), float(image.max())
        if low < -_RANGE_SLACK or high > 1 + _RANGE_SLACK:
            raise ValueError(f'{type(self).__name__}: the image un-normalised with mean '
                             f'{self.mean.ravel().tolist()} and std {self.std.ravel().tolist()} '
                             f'spans [{low:.3f}, {high:.3f}], not [0, 1]; set model.mean/std to the '
                             f'val Normalize\'s values.')
        return np.transpose(np.clip(np.rint(image * 255.0), 0, 255) / 255.0, (1, 2, 0))

    def solve(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """image float64 [H,W,3] in [0,1], trimap float64 [H,W] in {0, 0.5.., 1} -> alpha [H,W]."""
        noise = io.StringIO()
        try:
            # pymatting prints notes on stdout (its preconditioner retrying with a shift): they
            # would corrupt a PNG streamed to stdout, and concern no user
            with contextlib.redirect_stdout(noise):
                alpha = self.solver()(image, trimap, **self.solver_kwargs)
        except ValueError as error:  # pymatting's, e.g. "Trimap did not contain background values"
            raise ValueError(f'{type(self).__name__}: {error}') from None
        if noise.getvalue().strip():
            logger.debug('%s: pymatting said: %s', type(self).__name__, ' '.join(noise.getvalue().split()))
        return np.clip(alpha, 0.0, 1.0)

    def forward(self, inputs: Dict[str, paddle.Tensor]) -> paddle.Tensor:
        if 'trimap' not in inputs or inputs['trimap'] is None:
            raise ValueError(f'{type(self).__name__} needs a trimap (inputs["trimap"], [N,1,H,W] '
                             f'in {{0,128,255}}).')
        img = inputs['img'].numpy() if isinstance(inputs['img'], paddle.Tensor) else np.asarray(inputs['img'])
        trimap = inputs['trimap']
        trimap = trimap.numpy() if isinstance(trimap, paddle.Tensor) else np.asarray(trimap)
        alphas = [self.solve(self.image_from_input(img[i]), trimap[i, 0].astype(np.float64) / 255.0)
                  for i in range(img.shape[0])]
        return paddle.to_tensor(np.stack(alphas)[:, None].astype(np.float32))


@manager.MODELS.add_component
class CloseFormMatting(ClassicalMatting):
    """Closed-form matting (Levin, Lischinski & Weiss, CVPR 2006): pymatting.estimate_alpha_cf."""
    solver_name = 'estimate_alpha_cf'


@manager.MODELS.add_component
class KNNMatting(ClassicalMatting):
    """KNN matting (Chen, Li & Tang, CVPR 2012): pymatting.estimate_alpha_knn."""
    solver_name = 'estimate_alpha_knn'


@manager.MODELS.add_component
class LearningBasedMatting(ClassicalMatting):
    """Learning-based digital matting (Zheng & Kambhamettu, ICCV 2009): pymatting.estimate_alpha_lbdm."""
    solver_name = 'estimate_alpha_lbdm'


@manager.MODELS.add_component
class FastMatting(ClassicalMatting):
    """Fast matting with a large-kernel Laplacian (He, Sun & Tang, CVPR 2010): pymatting.estimate_alpha_lkm."""
    solver_name = 'estimate_alpha_lkm'


@manager.MODELS.add_component
class RandomWalksMatting(ClassicalMatting):
    """Random-walk matting (Grady et al., VIIP 2005): pymatting.estimate_alpha_rw."""
    solver_name = 'estimate_alpha_rw'

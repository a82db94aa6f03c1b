"""Grad: squared difference of gradient magnitudes over the unknown region, in thousands."""
import math
from typing import Tuple

import numpy as np
from scipy import ndimage

from ..config import manager
from .base import RunningMeanMetric


def gaussian_derivative_kernels(sigma: float = 1.4, epsilon: float = 0.01
                                ) -> Tuple[np.ndarray, np.ndarray]:
    """The two 1-D factors of the DIM benchmark's 2-D gradient filter.

    The 2-D filter is ``outer(smooth, derivative)``: a Gaussian across the gradient direction
    times its first derivative along it, truncated where the Gaussian falls below
    ``epsilon`` of its peak-normalised value, with half size
    ``ceil(sigma * sqrt(-2 ln(sqrt(2 pi) sigma epsilon)))``, and scaled to unit L2 norm.

    Returns:
        (smooth, derivative): float64 vectors of length 2 * half_size + 1 whose outer
        product is the L2-normalised 2-D filter.

    >>> import numpy as np
    >>> smooth, derivative = gaussian_derivative_kernels(1.4)
    >>> len(smooth), round(float(np.linalg.norm(np.outer(smooth, derivative))), 6)
    (9, 1.0)
    >>> round(float(derivative.sum()), 6)  # odd: a constant image has no gradient
    0.0
    """
    half_size = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi)
                                                              * sigma * epsilon)))
    offsets = np.arange(-half_size, half_size + 1, dtype=np.float64)
    smooth = np.exp(-offsets ** 2 / (2.0 * sigma ** 2)) / (sigma * math.sqrt(2.0 * math.pi))
    derivative = -offsets * smooth / sigma ** 2
    # the L2 norm of an outer product is the product of the factors' norms
    return smooth / np.linalg.norm(smooth), derivative / np.linalg.norm(derivative)


def gradient_magnitude(image: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    """Gradient magnitude [H, W] float64 of a float image [H, W], replicate border.

    The 2-D filter is separable, so two 1-D passes per direction replace the 2-D
    convolution; with replicate padding the result is the same.

    >>> import numpy as np
    >>> float(gradient_magnitude(np.full((8, 8), 0.5)).max())
    0.0
    >>> ramp = gradient_magnitude(np.tile(np.arange(12.0), (12, 1)))
    >>> bool(np.allclose(ramp[:, 4:8], ramp[6, 6]))  # a ramp's gradient is the same inside
    True
    """
    smooth, derivative = gaussian_derivative_kernels(sigma)
    grad_x = ndimage.convolve1d(ndimage.convolve1d(image, derivative, axis=1, mode='nearest'),
                                smooth, axis=0, mode='nearest')
    grad_y = ndimage.convolve1d(ndimage.convolve1d(image, derivative, axis=0, mode='nearest'),
                                smooth, axis=1, mode='nearest')
    return np.hypot(grad_x, grad_y)


def min_max_normalise(image: np.ndarray) -> np.ndarray:
    """Rescale a float image linearly to [0, 1]; a constant image becomes all zeros.

    >>> import numpy as np
    >>> min_max_normalise(np.array([2.0, 4.0, 6.0])).tolist()
    [0.0, 0.5, 1.0]
    >>> min_max_normalise(np.full(2, 3.0)).tolist()
    [0.0, 0.0]
    """
    low, high = image.min(), image.max()
    if high - low <= np.finfo(np.float64).eps:
        return np.zeros_like(image)
    return (image - low) / (high - low)


@manager.METRICS.add_component
class Grad(RunningMeanMetric):
    """Sum over the unknown pixels of (|grad gt| - |grad pred|)^2, divided by 1000.

    pred and gt are each min-max normalised before the gradient (sigma 1.4).

    >>> import numpy as np
    >>> edge = np.zeros((8, 8), np.uint8)
    >>> edge[:, 4:] = 255
    >>> Grad().update(edge, edge)
    0.0
    >>> Grad().update(np.zeros((8, 8), np.uint8), edge) > 0  # a missed edge costs
    True
    """

    name = 'grad'
    sigma = 1.4

    def compute(self, pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> float:
        pred_magnitude = gradient_magnitude(min_max_normalise(pred), self.sigma)
        gt_magnitude = gradient_magnitude(min_max_normalise(gt), self.sigma)
        return np.square(gt_magnitude - pred_magnitude)[unknown].sum() / 1000.0

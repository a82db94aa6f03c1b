"""Matting losses, used by the models' ``loss(logits, batch)`` (no config names a loss, so
they are not registered)."""
from .composition import CompositionLoss, composite
from .gradient import GradientLoss
from .laplacian import LaplacianLoss
from .mrsd import MRSD
from .reduction import masked_mean

"""Matting losses; importing this package registers them in ``manager.LOSSES``."""
from .composition import CompositionLoss, composite
from .gradient import GradientLoss
from .laplacian import LaplacianLoss
from .mrsd import MRSD
from .reduction import masked_mean

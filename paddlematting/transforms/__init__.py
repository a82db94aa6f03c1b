"""Transforms: callables taking and returning the sample dict (docs/ARCHITECTURE.md, "The
sample dict"); ``Compose`` runs a list of them and lays the result out for the networks.

Importing this package registers every transform in ``manager.TRANSFORMS`` under PaddleSeg
Matting's names. Random transforms draw from numpy's global generator only: the trainer seeds
it per (seed, epoch, sample index) before each sample (``engine.sample_order.SeededSamples``),
so augmentation does not depend on workers or process count, and ``np.random.seed(n)``
reproduces a single call.
"""
from .compose import Compose
from .crop import RandomCrop, RandomCropByAlpha
from .degradation import RandomNoise, RandomReJpeg, RandomSharpen
from .flip import RandomHorizontalFlip
from .loading import LoadImages
from .normalize import Normalize
from .padding import PadToMultiple, Padding
from .photometric import RandomBlur, RandomDistort
from .resize import (LimitLong, LimitShort, RandomResize, Resize, ResizeByLong, ResizeByShort,
                     ResizeToIntMult)
from .restore import restore_alpha

__all__ = ['Compose', 'LoadImages', 'RandomCrop', 'RandomCropByAlpha', 'Resize', 'RandomResize',
           'ResizeByShort', 'ResizeByLong', 'ResizeToIntMult', 'LimitLong', 'LimitShort', 'Padding',
           'PadToMultiple', 'RandomDistort', 'RandomBlur', 'RandomNoise', 'RandomReJpeg',
           'RandomSharpen', 'RandomHorizontalFlip', 'Normalize', 'restore_alpha']

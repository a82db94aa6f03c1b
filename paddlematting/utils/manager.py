"""Deprecated: the registries moved to :mod:`paddlematting.config.manager`.

Kept so that model files and scripts written against the old path (``from
paddlematting.utils import manager``, the PaddleSeg habit) keep registering into the same
registries: this name is the very same module object, not a copy. Import
``paddlematting.config.manager`` (or ``from paddlematting import manager``) instead.
"""
import sys
import warnings

from ..config import manager as _manager

warnings.warn('paddlematting.utils.manager moved to paddlematting.config.manager '
              '(or use paddlematting.manager)', DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _manager

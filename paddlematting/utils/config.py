"""Deprecated: ``Config`` and its helpers moved to :mod:`paddlematting.config`.

Kept so that scripts written against the old path (``from paddlematting.utils.config import
Config``) keep working: this name is the ``paddlematting.config`` package itself. Import
``from paddlematting import Config`` (or ``paddlematting.config``) instead; what
``cfg.model`` built now comes from ``paddlematting.builders.Built(cfg)``.
"""
import sys
import warnings

from .. import config as _config

warnings.warn('paddlematting.utils.config moved to paddlematting.config '
              '(or use `from paddlematting import Config`)', DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _config

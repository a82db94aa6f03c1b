"""Models, backbones and losses; importing this package registers all of them.

Every module of the package (and of backbones/, losses/) is imported here, so a new model
file registers itself: adding a model takes its own file and a config, nothing else.
"""
import importlib
import pkgutil

from ..config import manager
from . import backbones, losses
from .dim import DIM
from .modnet import MODNet
from .traits import ModelTraits, model_traits


def _import_every_module() -> None:
    for info in pkgutil.walk_packages(__path__, prefix=__name__ + '.'):
        importlib.import_module(info.name)


_import_every_module()

# every model class registered by this package is importable from it too
# (``from paddlematting.models import RVM``), without a list to keep up to date
_MODEL_CLASSES = {name: cls for name, cls in manager.MODELS.components_dict.items()
                  if cls.__module__.startswith(__name__ + '.')}
globals().update(_MODEL_CLASSES)

__all__ = sorted(_MODEL_CLASSES) + ['ModelTraits', 'model_traits', 'backbones', 'losses']

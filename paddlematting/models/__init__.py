"""Models, backbones and losses; importing this package registers all of them.

Every module of the package (and of backbones/, losses/) is imported here, so a new model
file registers itself: adding a model takes its own file and a config, nothing else.
"""
import importlib
import pkgutil

from . import backbones, losses
from .dim import DIM
from .modnet import MODNet
from .traits import ModelTraits, model_traits


def _import_every_module() -> None:
    for info in pkgutil.walk_packages(__path__, prefix=__name__ + '.'):
        importlib.import_module(info.name)


_import_every_module()

__all__ = ['DIM', 'MODNet', 'ModelTraits', 'model_traits', 'backbones', 'losses']

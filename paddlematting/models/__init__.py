"""Models, backbones and losses; importing this package registers all of them."""
from . import backbones, losses
from .dim import DIM
from .modnet import MODNet
from .traits import ModelTraits, model_traits

__all__ = ['DIM', 'MODNet', 'ModelTraits', 'model_traits', 'backbones', 'losses']

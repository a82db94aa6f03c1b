"""Models, backbones and losses; importing this package registers all of them."""
from . import backbones, losses
from .dim import DIM
from .modnet import MODNet
from .rvm import RVM

__all__ = ['DIM', 'MODNet', 'RVM', 'backbones', 'losses']

"""Models, backbones and losses; importing this package registers all of them."""
from . import backbones, losses
from .dim import DIM
from .gca import GCA
from .modnet import MODNet

__all__ = ['DIM', 'GCA', 'MODNet', 'backbones', 'losses']

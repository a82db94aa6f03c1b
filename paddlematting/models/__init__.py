"""Models, backbones and losses; importing this package registers all of them."""
from . import backbones, losses
from .dim import DIM
from .human_matting import HumanMatting
from .gca import GCA
from .modnet import MODNet
from .rvm import RVM

__all__ = ['DIM', 'GCA', 'HumanMatting', 'MODNet', 'RVM', 'backbones', 'losses']

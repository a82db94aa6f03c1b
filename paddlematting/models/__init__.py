"""Models, backbones and losses; importing this package registers all of them."""
from . import backbones, losses
from .dim import DIM
from .human_matting import HumanMatting
from .modnet import MODNet
from .rvm import RVM

__all__ = ['DIM', 'HumanMatting', 'MODNet', 'RVM', 'backbones', 'losses']

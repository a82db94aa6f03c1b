"""Models, backbones and losses; importing this package registers all of them."""
from . import backbones, losses
from .dim import DIM
from .modnet import MODNet
from .ppmatting import PPMatting

__all__ = ['DIM', 'MODNet', 'PPMatting', 'backbones', 'losses']

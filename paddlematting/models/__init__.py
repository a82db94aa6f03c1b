"""Models, backbones and losses; importing this package registers all of them."""
from . import backbones, losses
from .dim import DIM
from .modnet import MODNet
from .ppmattingv2 import PPMattingV2

__all__ = ['DIM', 'MODNet', 'PPMattingV2', 'backbones', 'losses']

"""Models, backbones and losses; importing this package registers all of them."""
from . import backbones, losses
from .classical import (CloseFormMatting, FastMatting, KNNMatting, LearningBasedMatting,
                        RandomWalksMatting)
from .dim import DIM
from .modnet import MODNet

__all__ = ['DIM', 'MODNet', 'CloseFormMatting', 'KNNMatting', 'LearningBasedMatting', 'FastMatting',
           'RandomWalksMatting', 'backbones', 'losses']

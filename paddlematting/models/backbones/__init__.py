"""Backbones; importing this package registers them in ``manager.BACKBONES``."""
from .hrnet import HRNet, HRNet_W18
from .mobilenet_v2 import MobileNetV2
from .resnet_vd import ResNet50_vd, ResNet_vd
from .stdc import STDC1, STDC2, STDCNet
from .vgg import VGG16

__all__ = ['HRNet', 'HRNet_W18', 'MobileNetV2', 'ResNet50_vd', 'ResNet_vd', 'STDC1', 'STDC2', 'STDCNet',
           'VGG16']

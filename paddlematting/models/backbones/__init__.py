"""Backbones; importing this package registers them in ``manager.BACKBONES``."""
from .hrnet import HRNet, HRNet_W18, HRNet_W48
from .mobilenet_v2 import MobileNetV2
from .resnet_vd import ResNet50_vd, ResNet_vd
from .vgg import VGG16

__all__ = ['HRNet', 'HRNet_W18', 'HRNet_W48', 'MobileNetV2', 'ResNet50_vd', 'ResNet_vd', 'VGG16']

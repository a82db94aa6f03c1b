"""Backbones; importing this package registers them in ``manager.BACKBONES``."""
from .gca_encoder import ResGuidedCxtAtten
from .hrnet import HRNet, HRNet_W18
from .mobilenet_v2 import MobileNetV2
from .resnet_vd import ResNet50_vd, ResNet_vd
from .vgg import VGG16

__all__ = ['HRNet', 'HRNet_W18', 'MobileNetV2', 'ResGuidedCxtAtten', 'ResNet50_vd', 'ResNet_vd', 'VGG16']

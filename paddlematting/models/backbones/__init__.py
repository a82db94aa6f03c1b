"""Backbones; importing this package registers them in ``manager.BACKBONES``."""
from .gca_encoder import ResGuidedCxtAtten
from .hrnet import HRNet, HRNet_W18, HRNet_W48
from .mobilenet_v2 import MobileNetV2
from .mobilenet_v3 import MobileNetV3, MobileNetV3_large_x1_0_os16
from .resnet_vd import ResNet50_vd, ResNet_vd
from .stdc import STDC1, STDC2, STDCNet
from .vgg import VGG16

__all__ = ['HRNet', 'HRNet_W18', 'HRNet_W48', 'MobileNetV2', 'MobileNetV3', 'MobileNetV3_large_x1_0_os16', 'ResGuidedCxtAtten', 'ResNet50_vd', 'ResNet_vd', 'STDC1', 'STDC2', 'STDCNet', 'VGG16']

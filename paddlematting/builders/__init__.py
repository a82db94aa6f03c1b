"""Builders: a config in, the objects it describes out (model, optimizer, datasets).

``Config`` holds the values; these functions build from them, one concept per module.
``Config``'s familiar properties (``cfg.model``, ``cfg.optimizer``, ...) are cached calls
into this package.
"""
from .dataset import build_dataset, build_transforms, build_val_transforms
from .model import build_model, load_declared_pretrained, model_class
from .optimizer import build_lr_scheduler, build_optimizer, check_optimization_config

__all__ = ['build_model', 'load_declared_pretrained', 'model_class', 'build_lr_scheduler',
           'build_optimizer', 'check_optimization_config', 'build_dataset', 'build_val_transforms',
           'build_transforms']

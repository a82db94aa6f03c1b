"""Builders: a config in, the objects it describes out (model, optimizer, datasets).

``Config`` (``paddlematting.config``) holds the values; these functions build from them, one
concept per module, and ``Built(cfg)`` gives them as cached attributes (``Built(cfg).model``,
the PaddleSeg builder object).
"""
from .built import Built
from .dataset import build_dataset, build_transforms, build_val_transforms
from .model import build_model, load_declared_pretrained, model_class
from .optimizer import build_lr_scheduler, build_optimizer

__all__ = ['Built', 'build_model', 'load_declared_pretrained', 'model_class', 'build_lr_scheduler',
           'build_optimizer', 'build_dataset', 'build_val_transforms', 'build_transforms']

"""Builders: a config in, the objects it describes out (model, optimizer, datasets).

``Config`` holds the values; these functions build from them. ``Config``'s familiar
properties (``cfg.model``, ``cfg.optimizer``, ...) are cached calls into this package.
"""
from .model import build_model, load_declared_pretrained, model_class

__all__ = ['build_model', 'load_declared_pretrained', 'model_class']

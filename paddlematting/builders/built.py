"""``Built(cfg)``: the objects a Config describes, each built once on first access.

The builder object of PaddleSeg's current API (``MatBuilder(cfg).model``): ``Config`` holds
values and builds nothing, so that the config layer imports nothing above it; this object,
one layer up, gives the familiar attributes::

    built = Built(Config('configs/modnet/modnet_mobilenetv2.yml'))
    model, optimizer = built.model, built.optimizer
"""
from functools import cached_property
from typing import Any, Union

import paddle

from ..config import Config
from .dataset import build_dataset, build_val_transforms
from .model import build_model
from .optimizer import build_lr_scheduler, build_optimizer

__all__ = ['Built']


class Built:
    """The model, datasets, val transforms, schedule and optimizer of ``config``.

    Each attribute is built on first access and kept (``built.model is built.model``);
    ``optimizer`` is built over ``model``'s parameters (grouped as the config's optimizer
    section says) with ``lr_scheduler``. Errors are
    ``ConfigError`` naming the key, raised when the attribute is first read.
    """

    def __init__(self, config: Config):
        if not isinstance(config, Config):
            raise TypeError(f'Built needs a paddlematting Config, got {type(config).__name__}')
        self.config = config

    @cached_property
    def model(self) -> paddle.nn.Layer:
        """The model with the config's ``pretrained`` weights (``builders.build_model``)."""
        return build_model(self.config)

    @cached_property
    def train_dataset(self) -> Any:
        """The training dataset (``builders.build_dataset``)."""
        return build_dataset(self.config, 'train_dataset')

    @cached_property
    def val_dataset(self) -> Any:
        """The validation dataset (``builders.build_dataset``)."""
        return build_dataset(self.config, 'val_dataset')

    @cached_property
    def val_transforms(self) -> list:
        """The val dataset's transforms, built, without the dataset
        (``builders.build_val_transforms``)."""
        return build_val_transforms(self.config)

    @cached_property
    def lr_scheduler(self) -> Union[float, paddle.optimizer.lr.LRScheduler]:
        """A ``paddle.optimizer.lr.LRScheduler``, or a float for a constant rate
        (``builders.build_lr_scheduler``)."""
        return build_lr_scheduler(self.config)

    @cached_property
    def optimizer(self) -> paddle.optimizer.Optimizer:
        """The paddle optimizer over ``model``'s parameters with ``lr_scheduler``
        (``builders.build_optimizer``)."""
        return build_optimizer(self.config, self.model, self.lr_scheduler)

    def __repr__(self) -> str:
        return f'Built({self.config!r})'

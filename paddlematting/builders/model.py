"""Building a config's model, then loading its weights: the one place weights enter a model.

Constructors download nothing; they store their ``pretrained`` argument as ``self.pretrained``.
:func:`build_model` builds the model from the config's ``model`` section and then loads, in
this order: each part's ``pretrained`` (backbones: non-strict, as ImageNet files carry
classifier heads), the model's own ``pretrained`` (strict), or instead of both the user's
``weights`` (strict: a whole-model checkpoint sets every key).
"""
import logging
import os
from typing import Optional, Union

import paddle.nn as nn

from ..utils import manager
from ..utils.component_builder import build_component, check_component
from ..utils.config import Config, ConfigError
from ..utils.pretrained import PRETRAINED_KEY, load_pretrained_weights, pretrained_key_paths

logger = logging.getLogger(__name__)

WeightsSource = Union[str, os.PathLike]


def model_class(cfg: Config) -> type:
    """The registered class named by ``cfg``'s ``model.type``, its arguments checked, unbuilt.

    Lets a command read the model's declaration (``models.model_traits``) before anything
    is built. Raises ConfigError naming the key when the type is missing or unknown.
    """
    section = cfg.model_config
    if 'type' not in section:
        raise ConfigError(f'{cfg.path}: key "model.type" is missing')
    return check_component(section, 'model', cfg.path, manager.MODELS)


def load_declared_pretrained(model: nn.Layer) -> None:
    """Load the ``pretrained`` weights ``model`` and its parts were built with.

    Every sublayer holding a ``pretrained`` path (a backbone, say) loads it non-strictly,
    outermost first; then the model's own ``pretrained`` loads strictly. None loads nothing.
    """
    for layer in model.sublayers():
        source = getattr(layer, PRETRAINED_KEY, None)
        if isinstance(source, (str, os.PathLike)):
            load_pretrained_weights(layer, source, strict=False)
    source = getattr(model, PRETRAINED_KEY, None)
    if isinstance(source, (str, os.PathLike)):
        load_pretrained_weights(model, source, strict=True)


def build_model(cfg: Config, weights: Optional[WeightsSource] = None) -> nn.Layer:
    """The model of ``cfg`` (train mode, as built), with its weights loaded.

    Args:
        cfg: the config; its ``model`` section is built through the registries.
        weights: a .pdparams file, a folder holding model.pdparams, or an http(s) URL of
            either (or of an archive holding one). Given, it is loaded strictly and the
            config's ``pretrained`` keys are skipped (nothing is downloaded for them); None
            loads the config's ``pretrained`` weights (see ``load_declared_pretrained``).
    Raises:
        ConfigError: the model section cannot be built.
        FileNotFoundError, ValueError, WeightsMismatchError: as
            ``utils.pretrained.load_pretrained_weights``.
    """
    model = build_component(cfg.model_config, 'model', cfg.path, manager.MODELS)
    if weights is None:
        load_declared_pretrained(model)
        return model
    skipped = pretrained_key_paths(cfg.model_config)
    if skipped:
        logger.info('Weights are given (%s), so %s %s not loaded.', os.fspath(weights),
                    ', '.join(skipped), 'is' if len(skipped) == 1 else 'are')
    load_pretrained_weights(model, weights, strict=True)
    return model

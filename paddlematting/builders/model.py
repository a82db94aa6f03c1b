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

from ..config import Config, ConfigError, build_component, check_component, manager
from ..utils.download import DownloadError
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


class PretrainedUnavailableError(OSError):
    """A config's ``pretrained`` file or URL cannot be had; the message says how to go on."""


def _load_declared(layer: nn.Layer, source, strict: bool, key: str) -> None:
    try:
        load_pretrained_weights(layer, source, strict=strict)
    except (DownloadError, FileNotFoundError) as error:
        # offline, or a moved file: one line that says what to do instead
        raise PretrainedUnavailableError(
            f'{key} = {os.fspath(source)} cannot be loaded ({error}). Download it where a '
            f'network is available and pass the local file with --opts {key}=PATH, or pass '
            f'--opts {key}=null to start these weights from random values') from error


def load_declared_pretrained(model: nn.Layer) -> None:
    """Load the ``pretrained`` weights ``model`` and its parts were built with.

    Every sublayer holding a ``pretrained`` path (a backbone, say) loads it non-strictly,
    outermost first; then the model's own ``pretrained`` loads strictly. None loads nothing.

    Raises:
        PretrainedUnavailableError: a file is missing or a URL cannot be downloaded; the
            message names the config key (``model.backbone.pretrained``) and the way on.
    """
    for name, layer in model.named_sublayers():
        source = getattr(layer, PRETRAINED_KEY, None)
        if isinstance(source, (str, os.PathLike)):
            _load_declared(layer, source, False, f'model.{name}.{PRETRAINED_KEY}')
    source = getattr(model, PRETRAINED_KEY, None)
    if isinstance(source, (str, os.PathLike)):
        _load_declared(model, source, True, f'model.{PRETRAINED_KEY}')


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

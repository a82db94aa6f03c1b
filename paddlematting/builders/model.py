"""Building a config's model, then loading its weights: the one place weights enter a model.

Constructors download nothing; they store their ``pretrained`` argument as ``self.pretrained``.
:func:`build_model` builds the model from the config's ``model`` section and then loads, in
this order: each part's ``pretrained`` (backbones: non-strict, as ImageNet files carry
classifier heads), the model's own ``pretrained`` (strict), or instead of both the user's
``weights`` (strict: a whole-model checkpoint sets every key).
"""
import logging
import math
import os
from typing import Any, Dict, List, Optional, Union

import paddle
import paddle.nn as nn

from ..config import Config, ConfigError, build_component, check_component, manager
from ..config.component_builder import size_arguments
from ..utils.download import DownloadError
from ..utils.pretrained import (PRETRAINED_KEY, load_pretrained_weights, pretrained_key_paths,
                                without_pretrained)

logger = logging.getLogger(__name__)

WeightsSource = Union[str, os.PathLike]

# The most parameters a config's model may hold: about ten times the largest model here
# (PP-Matting HRNet-W48, 86 M). More is a typo in a size argument (model.hr_channels: 100000
# asks for 360 GB), refused before anything is allocated.
MAX_MODEL_PARAMETERS = 1 << 30


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
    check_model_size(cfg)
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


def _size_suspects(section: Dict[str, Any], key_path: str, source: str) -> List[str]:
    """The integer arguments of ``section`` and its nested components that differ from
    their defaults (``model.hr_channels=100000 (default 32)``), largest first per component."""
    if not isinstance(section, dict) or not isinstance(section.get('type'), str):
        return []
    cls = check_component(section, key_path, source)
    arguments = {k: v for k, v in section.items() if k != 'type'}
    found = size_arguments(cls, arguments, key_path)
    for key, value in arguments.items():
        found += _size_suspects(value, f'{key_path}.{key}', source)
    return found


def parameter_count(cfg: Config) -> Optional[int]:
    """How many parameters ``cfg``'s model holds, without allocating them: the model is
    built under ``paddle.LazyGuard`` (shapes only; the random generators are not drawn
    from). None for a model that cannot be built that way (its real build decides).
    Raises ConfigError as ``build_model`` would for a bad section."""
    section = without_pretrained(cfg.model_config)
    try:
        with paddle.utils.unique_name.guard(), paddle.LazyGuard():
            lazy = build_component(section, 'model', cfg.path, manager.MODELS)
    except ConfigError as e:
        if isinstance(e.__cause__, (MemoryError, RuntimeError, IndexError, OverflowError)):
            return None  # Paddle's own failure on a lazy tensor (e.g. a reshape in __init__)
        raise
    except Exception:  # noqa: BLE001 - e.g. a tensor made in __init__: the real build decides
        return None
    return sum(math.prod(p.shape) for p in lazy.parameters())


def check_model_size(cfg: Config) -> None:
    """Refuse a model section whose model would hold more than ``MAX_MODEL_PARAMETERS``
    parameters (``parameter_count``), naming the size arguments that differ from their
    defaults, before anything is allocated."""
    count = parameter_count(cfg)
    if count is not None and count > MAX_MODEL_PARAMETERS:
        section = without_pretrained(cfg.model_config)
        suspects = _size_suspects(section, 'model', cfg.path)
        hint = f'; check {", ".join(suspects)}' if suspects else ''
        where = cfg.where(suspects[0].split('=', 1)[0]) if suspects else cfg.path
        raise ConfigError(f'{where}: model ({section.get("type")}) would hold {count:,} '
                          f'parameters ({count * 4 / 2 ** 30:,.0f} GiB), more than the '
                          f'{MAX_MODEL_PARAMETERS:,} any matting model needs{hint}')

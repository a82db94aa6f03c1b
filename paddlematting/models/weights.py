"""Loading a model's or backbone's ``pretrained`` weights, the one way every model does it.

Whole models (DIM, MODNet) load strictly: a checkpoint of the model must set every key.
Backbones load non-strictly, because ImageNet checkpoints carry classifier heads the
backbone lacks. Both go through :func:`paddlematting.utils.pretrained.load_pretrained_weights`.
"""
from typing import Optional

import paddle.nn as nn

from ..utils.pretrained import load_pretrained_weights

__all__ = ['load_model_weights']


def load_model_weights(layer: nn.Layer, pretrained: Optional[str], strict: bool) -> None:
    """Load ``pretrained`` into ``layer``; None keeps the layer's current initialisation.

    Args:
        layer: the model or backbone; its ``state_dict()`` keys are matched with the file's.
        pretrained: a .pdparams file, a folder holding model.pdparams, an http(s) URL of
            either (or of an archive holding model.pdparams), or None.
        strict: True to refuse any missing, unexpected or mis-shaped key (the layer is then
            left unchanged); False to load the matching keys and log a warning about the rest.
    Raises:
        FileNotFoundError, ValueError, paddlematting.utils.pretrained.WeightsMismatchError:
            as :func:`~paddlematting.utils.pretrained.load_pretrained_weights`.
    """
    if pretrained is None:
        return
    load_pretrained_weights(layer, pretrained, strict=strict)

"""Helpers shared by the backbones (the network building blocks themselves live in
``models/layers.py``)."""
from typing import Optional

import paddle.nn as nn


def load_backbone_weights(layer: nn.Layer, pretrained: Optional[str]) -> None:
    """Load ``pretrained`` (a path or URL; None = keep the current init) into ``layer``.

    Non-strict, because ImageNet checkpoints carry classifier heads the backbone lacks.
    """
    if pretrained is None:
        return
    # imported lazily: the loader pulls in download/caching code a plain build never needs
    from paddlematting.utils.pretrained import load_pretrained_weights
    load_pretrained_weights(layer, pretrained, strict=False)

"""A tensor-in, alpha-out view of any matting model, and which inputs a model type takes.

The registered models take a dict (``{'img', 'trimap'?}``); export, the dygraph runner and
Paddle Inference all need plain tensors in a fixed order instead. Each model class declares
its inputs itself (``input_names = ('img', 'trimap')``); nothing here lists model types.
"""
from typing import Dict, List

import paddle.nn as nn

from ..utils import manager

# channels of each named input, [N, C, H, W]: the RGB image and the one-channel trimap
INPUT_CHANNELS: Dict[str, int] = {'img': 3, 'trimap': 1}
# what a model class that declares nothing takes
DEFAULT_INPUT_NAMES = ('img',)


def input_names_for(model_type: str) -> List[str]:
    """Input names, in call order, that a registered model type declares (``input_names``)."""
    return list(getattr(manager.MODELS[model_type], 'input_names', DEFAULT_INPUT_NAMES))


class AlphaOnlyModel(nn.Layer):
    """``forward(img [N,3,H,W], trimap [N,1,H,W] 0..255 | None) -> alpha [N,1,H,W] in [0,1]``.

    The form ``paddle.jit.save`` traces; it owns no parameters of its own.
    """

    def __init__(self, model: nn.Layer):
        super().__init__()
        self.model = model

    def forward(self, img, trimap=None):
        inputs = {'img': img}
        if trimap is not None:
            inputs['trimap'] = trimap
        out = self.model(inputs)
        # a model may return a dict of heads in eval mode; the matte is what deploys
        if isinstance(out, dict):
            out = out['alpha']
        return out


def is_recurrent(model_or_type) -> bool:
    """Whether a model (instance, class or registered type name) declares ``recurrent = True``
    (it keeps a state between calls: RVM)."""
    if isinstance(model_or_type, str):
        model_or_type = manager.MODELS[model_or_type]
    return bool(getattr(model_or_type, 'recurrent', False))


class RecurrentStepModel(nn.Layer):
    """``forward(img [N,3,H,W], states [s_1..s_k]) -> [alpha, *other outputs, *new states]`` of a
    recurrent model.

    The form ``paddle.jit.save`` traces for a recurrent model (``recurrent = True``): the state
    becomes explicit inputs and outputs, so a static program can run a video frame by frame.
    The model supplies ``step(img, states) -> (outputs, new_states)`` (outputs start with alpha),
    ``state_names``, ``state_channels`` and ``export_output_names``; it owns no parameters of its own.
    """

    def __init__(self, model: nn.Layer):
        super().__init__()
        self.model = model

    def forward(self, img, states):
        outputs, new_states = self.model.step(img, list(states))
        return list(outputs) + list(new_states)

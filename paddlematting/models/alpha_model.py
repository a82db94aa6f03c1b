"""A tensor-in, alpha-out view of any matting model.

The registered models take a dict (``{'img', 'trimap'?}``); export, the dygraph runner and
Paddle Inference all need plain tensors in a fixed order instead. Which inputs a model
takes is its own declaration (``input_names``, see :mod:`.traits`).
"""
import paddle.nn as nn


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

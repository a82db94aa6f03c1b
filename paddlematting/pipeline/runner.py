"""Runners over a paddle Layer: run a model on prepared inputs, bring its alpha back.

A *runner* is any callable ``runner(img, trimap) -> alpha`` (see
``paddlematting.pipeline``): ``img`` float32 [N,3,H,W] normalised, ``trimap``
float32 [N,1,H,W] in {0,128,255} or None (ignored by models without a trimap input),
result float32 [N,1,H,W] alpha in [0,1]. ``dygraph_runner`` wraps a paddle Layer;
``paddlematting.inference.Predictor`` is the other implementation.

Preparing raw images and undoing the val transforms live in ``pipeline.prediction``; the
evaluator, the predictor and the Paddle Inference predictor all use them.
"""
from typing import Optional

import numpy as np
import paddle

from ..models.alpha_model import AlphaOnlyModel
from ..models.traits import model_traits
from .prediction import Runner

__all__ = ['dygraph_runner', 'clip_runner', 'shape_checked']


def dygraph_runner(model: paddle.nn.Layer, carry_state: bool = False) -> Runner:
    """A runner calling ``model`` in eval mode without gradients.

    The model is switched to eval mode on every call, because a trainer may have put it
    back into train mode between calls. A recurrent model (RVM) keeps its state between
    calls only with ``carry_state=True`` (frames of one clip; call ``model.reset()`` before
    each clip); by default every call is an independent image and starts from a reset state.
    The runner has ``needs_trimap`` (the model declares a trimap input), as
    ``inference.Predictor`` does, and ``start_clip()`` (see ``clip_runner``).
    """
    alpha_model = AlphaOnlyModel(model)
    traits = model_traits(model)
    recurrent = traits.recurrent
    reset_each_call = recurrent and not carry_state

    def run(img: np.ndarray, trimap: np.ndarray = None) -> np.ndarray:
        model.eval()
        if reset_each_call:
            model.reset()
        with paddle.no_grad():
            alpha = alpha_model(
                paddle.to_tensor(np.ascontiguousarray(img, dtype=np.float32)),
                None if trimap is None else
                paddle.to_tensor(np.ascontiguousarray(trimap, dtype=np.float32)))
        return alpha.numpy()

    def start_clip() -> Runner:
        if not recurrent:
            return run
        model.reset()
        return dygraph_runner(model, carry_state=True)

    run.start_clip = start_clip
    # what the model declares, read by callers that get only the runner (predict_image)
    run.needs_trimap = 'trimap' in traits.input_names
    return run


def clip_runner(runner: Runner) -> Runner:
    """The runner for the frames of one clip: for a recurrent model a runner that carries the
    state from frame to frame, starting from a fresh one (``runner.start_clip()``, offered by
    ``dygraph_runner`` and ``inference.Predictor``); any other runner as it is."""
    start_clip = getattr(runner, 'start_clip', None)
    return start_clip() if callable(start_clip) else runner


def shape_checked(runner: Runner) -> Runner:
    """``runner`` with its result checked: alpha must be [N,1,H,W] matching ``img`` [N,3,H,W].

    The result comes back as a numpy array; a wrong shape raises ValueError naming both shapes.
    """
    def run(img: np.ndarray, trimap: Optional[np.ndarray] = None) -> np.ndarray:
        alpha = np.asarray(runner(img, trimap))
        expected = (img.shape[0], 1) + tuple(img.shape[2:])
        if alpha.shape != expected:
            raise ValueError(f'The runner returned alpha of shape {alpha.shape}; expected '
                             f'[N, 1, H, W] = {list(expected)} matching the input image.')
        return alpha

    return run

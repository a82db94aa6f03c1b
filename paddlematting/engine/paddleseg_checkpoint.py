"""Resuming from a checkpoint folder that PaddleSeg's own ``train.py`` wrote.

PaddleSeg (contrib/Matting and Matting/) saves ``iter_N/model.pdparams`` (structured keys, the
same as ours) and ``iter_N/model.pdopt`` (``optimizer.state_dict()``), and nothing else: the
iteration lives only in the folder name, and the optimizer's accumulators are keyed by paddle's
*parameter names* of the process that saved them, e.g. ``conv2d_0.w_0_velocity_0`` (automatic
names, numbered in creation order per process) or ``conv1_1_weights_velocity_0`` (explicit
``ParamAttr`` names some PaddleSeg backbones set). Neither kind of name exists in our process.

Paddle writes each accumulator kind in the order of the optimizer's parameter list, which is
``model.parameters()`` restricted to trainable ones, and that order is the state-dict order our
models reproduce exactly. So the i-th ``<name>_velocity_<k>`` entry belongs to our i-th
trainable parameter; the shapes are checked, and any mismatch is refused by name.
"""
import os
import re
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import paddle

# the accumulator kinds of paddle's built-in optimizers (Momentum, Adam/AdamW, Adagrad,
# RMSProp, Adamax, Lamb); each is saved as '<parameter name>_<kind>_<counter>'
ACCUMULATOR_KEY = re.compile(
    r'^(?P<param>.+)_(?P<kind>velocity|moment1|moment2|beta1_pow_acc|beta2_pow_acc|moment|'
    r'mean_square|mean_grad|inf_norm)_(?P<counter>\d+)$')
# accumulators that hold one number per parameter, whatever the parameter's shape
_SCALAR_KINDS = frozenset({'beta1_pow_acc', 'beta2_pow_acc'})
ITER_FOLDER = re.compile(r'^iter_(\d+)$')

__all__ = ['PaddleSegCheckpointError', 'iteration_from_folder', 'is_paddleseg_optimizer_state',
           'convert_optimizer_state']


class PaddleSegCheckpointError(ValueError):
    """A PaddleSeg checkpoint that cannot be mapped onto the model built from the config."""


def iteration_from_folder(folder: str) -> Optional[int]:
    """N of a folder named ``iter_N`` (PaddleSeg's only record of the iteration), else None."""
    match = ITER_FOLDER.match(os.path.basename(os.path.normpath(folder)))
    return int(match.group(1)) if match else None


def is_paddleseg_optimizer_state(state: Dict[str, Any], marker_key: str) -> bool:
    """Whether an optimizer state dict came from PaddleSeg: it lacks our name map (``marker_key``)
    but holds accumulators."""
    return marker_key not in state and any(ACCUMULATOR_KEY.match(k) for k in state)


def _group_accumulators(state: Dict[str, Any]) -> 'OrderedDict[str, List[Tuple[str, Any]]]':
    groups: 'OrderedDict[str, List[Tuple[str, Any]]]' = OrderedDict()
    for key, value in state.items():
        match = ACCUMULATOR_KEY.match(key)
        if match:
            groups.setdefault(match.group('kind'), []).append((key, value))
    return groups


def convert_optimizer_state(model: paddle.nn.Layer, state: Dict[str, Any],
                            where: str) -> Dict[str, Any]:
    """PaddleSeg's optimizer state re-keyed by this process's parameter names.

    Args:
        model: the model built from the config (its trainable parameters, in order, receive
            the accumulators).
        state: ``paddle.load`` of PaddleSeg's model.pdopt.
        where: the file, for messages.
    Returns:
        A state dict for ``optimizer.set_state_dict``: ``'<our param name>_<kind>_0'`` per
        accumulator, other entries (``LR_Scheduler``, ...) unchanged.
    Raises:
        PaddleSegCheckpointError: a different count of accumulators than trainable
            parameters, or a shape that does not fit (named).
    """
    params = [(name, p) for name, p in model.named_parameters() if not p.stop_gradient]
    converted = {k: v for k, v in state.items() if not ACCUMULATOR_KEY.match(k)}
    for kind, entries in _group_accumulators(state).items():
        if len(entries) != len(params):
            raise PaddleSegCheckpointError(
                f'{where}: holds {len(entries)} "{kind}" accumulators but the model built from '
                f'the config has {len(params)} trainable parameters; was it trained with another '
                f'config or training stage?')
        for (key, value), (structured, param) in zip(entries, params):
            shape = list(value.shape)
            if kind not in _SCALAR_KINDS and shape != list(param.shape):
                raise PaddleSegCheckpointError(
                    f'{where}: accumulator {key!r} has shape {shape}, but the parameter in its '
                    f'place, {structured!r}, has shape {list(param.shape)}; the checkpoint does '
                    f'not fit this model.')
            converted[f'{param.name}_{kind}_0'] = value
    return converted

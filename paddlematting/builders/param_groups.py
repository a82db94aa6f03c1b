"""Parameter groups: per-parameter learning-rate factors and weight decay, from a config's
``optimizer`` section.

Two optional keys of that section (both from the ViTMatte recipe, detectron2's
``get_default_optimizer_params``):

- ``layer_decay: r``: layer-wise learning-rate decay. Every sublayer that declares
  ``layer_id(name) -> int`` and ``num_layers`` (``models.backbones.ViTDet``) has its
  parameters' rate scaled by ``r ** (num_layers + 1 - layer_id)``: the deepest block learns
  at ``r`` times the rate, the embeddings at ``r ** (num_layers + 1)``; other parameters
  (the decoder) keep the full rate.
- ``no_weight_decay: [pattern, ...]``: shell patterns (``fnmatch``) of parameter names
  (``backbone.embeddings.position_embeddings``, ``*norm*``) that get no weight decay.

Paddle applies a group's ``learning_rate`` as a factor of the schedule's rate, and AdamW
its ``weight_decay`` decoupled, scaled by that rate, as torch's AdamW does.
"""
import fnmatch
from typing import Any, Dict, List, Optional, Sequence, Tuple

import paddle.nn as nn

__all__ = ['GROUP_KEYS', 'lr_factors', 'parameter_groups']

# the optimizer keys this module reads (popped before the optimizer is built)
GROUP_KEYS = ('layer_decay', 'no_weight_decay')


def lr_factors(model: nn.Layer, decay: float) -> Dict[str, float]:
    """{parameter name: learning-rate factor} for the parameters of the sublayers declaring
    ``layer_id`` (see the module docstring); parameters not listed keep factor 1."""
    factors = {}
    for prefix, layer in model.named_sublayers(include_self=True):
        layer_id = getattr(layer, 'layer_id', None)
        if not callable(layer_id):
            continue
        depth = int(layer.num_layers)
        for name, _ in layer.named_parameters():
            full = f'{prefix}.{name}' if prefix else name
            factors.setdefault(full, decay ** (depth + 1 - layer_id(name)))
    return factors


def parameter_groups(model: nn.Layer, layer_decay: Optional[float],
                     no_weight_decay: Sequence[str], weight_decay: Any) -> List[Dict[str, Any]]:
    """The model's trainable parameters as paddle optimizer groups ``{'params': [...],
    'learning_rate': factor[, 'weight_decay': 0.0]}``, one group per distinct setting, in
    the model's parameter order. ``weight_decay`` is the optimizer's (kept where not 0'd)."""
    factors = lr_factors(model, layer_decay) if layer_decay is not None else {}
    groups: Dict[Tuple[float, bool], Dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if param.stop_gradient:
            continue
        decayed = not any(fnmatch.fnmatchcase(name, p) for p in no_weight_decay)
        key = (factors.get(name, 1.0), decayed)
        if key not in groups:
            groups[key] = {'params': [], 'learning_rate': key[0]}
            if not decayed:
                groups[key]['weight_decay'] = 0.0
            elif weight_decay is not None:
                groups[key]['weight_decay'] = weight_decay
        groups[key]['params'].append(param)
    return list(groups.values())

"""Published weights in PyTorch's layout, read into our Paddle layers unchanged.

Some models are published by PyTorch projects (ViTMatte on the Hugging Face hub, BiRefNet):
their ``model.safetensors`` / ``.pth`` files are loaded as they are, and this module turns
their state dict into ours. A layer opts in by declaring, as a class attribute,
``weights_layout = 'torch'`` (see ``models/traits.py``); its files in torch's formats
(``.safetensors``, torch's zip ``.pth``) are then converted in three steps:

1. wrapper prefixes that training scripts leave (``module.`` from DataParallel,
   ``_orig_mod.`` from ``torch.compile``) are stripped;
2. the layer's own name map, if it has one: ``layer.map_published_state(state) -> state``
   renames keys (and may drop or widen entries, e.g. a 3-channel patch embedding made
   4-channel); it sees torch names and arrays and returns ours, still in torch's layout;
3. what differs between the frameworks for every model: BatchNorm's ``running_mean`` /
   ``running_var`` become ``_mean`` / ``_variance``, ``num_batches_tracked`` is dropped, and
   every ``nn.Linear`` weight of the layer (torch [out, in]) is transposed to Paddle's [in, out].

Our own ``.pdparams`` files of such a layer (checkpoints we trained) are already in Paddle's
layout and are loaded as they are. Only numpy is needed besides the layer itself.
"""
from typing import Dict, Iterable, Set

import numpy as np

__all__ = ['TORCH_LAYOUT', 'declares_torch_layout', 'linear_weight_keys', 'torch_state_to_paddle']

TORCH_LAYOUT = 'torch'
_WRAPPER_PREFIXES = ('module.', '_orig_mod.')
_BN_RENAMES = {'running_mean': '_mean', 'running_var': '_variance'}
_DROPPED_LEAVES = ('num_batches_tracked',)


def declares_torch_layout(layer) -> bool:
    """True when ``layer`` (or its class) declares ``weights_layout = 'torch'``."""
    return getattr(layer, 'weights_layout', 'paddle') == TORCH_LAYOUT


def linear_weight_keys(layer) -> Set[str]:
    """The state-dict keys of the weights of every ``paddle.nn.Linear`` inside ``layer``."""
    import paddle.nn as nn
    keys = set()
    for name, sublayer in layer.named_sublayers(include_self=True):
        if isinstance(sublayer, nn.Linear):
            keys.add(f'{name}.weight' if name else 'weight')
    return keys


def _strip_wrapper_prefixes(state: Dict[str, np.ndarray],
                            own_keys: Iterable[str]) -> Dict[str, np.ndarray]:
    """``module.x`` -> ``x`` (repeatedly), unless the layer's own keys carry that prefix."""
    own = tuple(own_keys)
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in _WRAPPER_PREFIXES:
                if key.startswith(prefix) and not any(k.startswith(prefix) for k in own):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def _paddle_leaf_names(state: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """BatchNorm statistics renamed to Paddle's names; ``num_batches_tracked`` dropped."""
    out = {}
    for key, value in state.items():
        head, _, leaf = key.rpartition('.')
        if leaf in _DROPPED_LEAVES:
            continue
        if leaf in _BN_RENAMES:
            key = f'{head}.{_BN_RENAMES[leaf]}' if head else _BN_RENAMES[leaf]
        out[key] = value
    return out


def torch_state_to_paddle(state: Dict[str, np.ndarray], layer) -> Dict[str, np.ndarray]:
    """A torch-layout state dict as ``layer`` (a Paddle layer declaring it) loads it.

    Args:
        state: key -> numpy array, as the published file holds it (any dtype).
        layer: the paddle layer the weights are for; its ``map_published_state`` (optional)
            renames the keys, and its ``nn.Linear`` sublayers say which weights to transpose.
    Returns:
        A new dict with our keys; Linear weights transposed (2-D, [in, out]); BatchNorm
        statistics renamed; values otherwise unchanged (not copied).
    """
    own_keys = list(layer.state_dict().keys())
    state = _strip_wrapper_prefixes(state, own_keys)
    mapper = getattr(layer, 'map_published_state', None)
    if mapper is not None:
        state = dict(mapper(state))
    state = _paddle_leaf_names(state)
    for key in linear_weight_keys(layer):
        value = state.get(key)
        if isinstance(value, np.ndarray) and value.ndim == 2:
            state[key] = value.T
    return state

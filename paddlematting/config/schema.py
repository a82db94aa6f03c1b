"""What a config may hold, checked when it is read, without paddle or any builder.

The top-level keys, the counts, and the value types of the ``optimizer``, ``lr_scheduler``
and ``learning_rate`` sections. ``builders.optimizer`` builds from the same tables
(``OPTIMIZERS``, ``DECAY_ALIASES``), so the names a config is checked against here are the
names it is built with there.
"""
import numbers
from typing import Any, Collection, Dict, List, Optional

from .component_builder import closest_hint, describe_hint, matches_hint
from .loading import ConfigError

__all__ = ['KNOWN_TOP_LEVEL_KEYS', 'DEFAULT_BEST_METRIC', 'OPTIMIZERS', 'DECAY_ALIASES',
           'ARGUMENT_TYPES', 'is_number', 'is_piecewise', 'check_config',
           'check_optimization_config']

# the top-level keys a config may hold; keys starting with '_' are free for users' own notes
KNOWN_TOP_LEVEL_KEYS = ('batch_size', 'iters', 'train_dataset', 'val_dataset', 'model', 'optimizer',
                        'lr_scheduler', 'learning_rate', 'export', 'best_metric')
# the sections that must be mappings when present
_MAPPING_KEYS = ('model', 'train_dataset', 'val_dataset', 'optimizer', 'lr_scheduler', 'learning_rate')
# the validation metric that picks best_model when the config names none (lower is better)
DEFAULT_BEST_METRIC = 'sad'

# optimizer `type` -> paddle.optimizer class name; sgd becomes Momentum unless momentum is 0
OPTIMIZERS = {'sgd': 'SGD', 'momentum': 'Momentum', 'adam': 'Adam', 'adamw': 'AdamW'}
# `learning_rate.decay.type` short names (PaddleSeg's) -> paddle.optimizer.lr classes
DECAY_ALIASES = {'poly': 'PolynomialDecay', 'piecewise': 'PiecewiseDecay',
                 'cosine': 'CosineAnnealingDecay'}
# The types a config may give these arguments. paddle's own annotations cannot all be
# resolved (forward references to Tensor, LRScheduler), so the common ones are listed here.
ARGUMENT_TYPES: Dict[str, Any] = {
    # schedules
    'learning_rate': float, 'decay_steps': int, 'end_lr': float, 'power': float, 'cycle': bool,
    'boundaries': List[int], 'values': List[float], 'T_max': int, 'eta_min': float,
    'gamma': float, 'step_size': int, 'milestones': List[int], 'last_epoch': int,
    'verbose': bool,
    # optimizers
    'momentum': float, 'weight_decay': Optional[float], 'use_nesterov': bool, 'beta1': float,
    'beta2': float, 'epsilon': float, 'lazy_mode': bool, 'multi_precision': bool,
    'amsgrad': bool, 'rescale_grad': float,
}


def is_number(value: Any) -> bool:
    """Whether a config value is a real number (YAML int or float, not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_piecewise(type_name: Any) -> bool:
    """Whether a scheduler ``type`` (class name or ``learning_rate.decay`` alias) is PiecewiseDecay."""
    return (isinstance(type_name, str)
            and DECAY_ALIASES.get(type_name, type_name) == 'PiecewiseDecay')


def check_config(dic: Dict[str, Any], path: str, file_keys: Collection[str]) -> None:
    """Check a merged config's top-level keys, counts, section kinds and optimization values.

    Args:
        dic: the merged mapping (after ``_base_`` and ``--opts``).
        path: the config file, named in messages.
        file_keys: the top-level keys the file itself held, to tell a typo in the file from
            one in ``--opts``.
    Raises ConfigError naming the key and what was expected.
    """
    for key in dic:
        if key in KNOWN_TOP_LEVEL_KEYS or (isinstance(key, str) and key.startswith('_')):
            continue
        where = path if key in file_keys else f'--opts (on {path})'
        guess = closest_hint(str(key), KNOWN_TOP_LEVEL_KEYS)
        raise ConfigError(f'{where}: unknown top-level key "{key}"{guess}; known keys: '
                          f'{", ".join(KNOWN_TOP_LEVEL_KEYS)} (keys starting with "_" are free)')
    for key in ('iters', 'batch_size'):
        value = dic.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ConfigError(f'{path}: key "{key}" must be a positive integer, got {value!r}')
    for key in _MAPPING_KEYS:
        value = dic.get(key)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f'{path}: key "{key}" must be a mapping, got {type(value).__name__}')
    check_optimization_config(dic, path)


def _check_types(section: Dict[str, Any], where: str, path: str) -> None:
    for key, value in section.items():
        hint = ARGUMENT_TYPES.get(key)
        if key != 'type' and hint is not None and not matches_hint(value, hint):
            raise ConfigError(f'{path}: "{where}.{key}" must be {describe_hint(hint)}, '
                              f'got {value!r} ({type(value).__name__})')


def check_optimization_config(dic: Dict[str, Any], path: str) -> None:
    """Check the ``optimizer``, ``lr_scheduler`` and ``learning_rate`` sections' value types
    and the optimizer type, without importing paddle. Raises ConfigError naming the key."""
    optimizer = dic.get('optimizer') or {}
    type_name = optimizer.get('type', 'sgd')
    if not isinstance(type_name, str) or type_name.lower() not in OPTIMIZERS:
        raise ConfigError(f'{path}: "optimizer.type" is "{type_name}"; expected one of '
                          f'{", ".join(sorted(OPTIMIZERS))}')
    _check_types(optimizer, 'optimizer', path)
    _check_types(dic.get('lr_scheduler') or {}, 'lr_scheduler', path)
    block = dic.get('learning_rate') or {}
    if 'value' in block and not is_number(block['value']):
        raise ConfigError(f'{path}: "learning_rate.value" must be a number, got {block["value"]!r}')
    if isinstance(block.get('decay'), dict):
        _check_types(block['decay'], 'learning_rate.decay', path)

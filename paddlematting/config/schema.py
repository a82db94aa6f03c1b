"""What a config may hold, checked when it is read, without paddle or any builder.

The top-level keys, the counts, that every number is finite (and learning rates >= 0), the
``export`` section's shape, and the value types of the ``optimizer``, ``lr_scheduler`` and
``learning_rate`` sections; an error names the file, or the flag (``--opts KEY=VALUE``,
``--iters``) when the command line set the key (``KeyOrigins``). ``builders.optimizer`` builds from the same tables
(``OPTIMIZERS``, ``DECAY_ALIASES``), so the names a config is checked against here are the
names it is built with there.
"""
import math
import numbers
import re
from typing import Any, Collection, Dict, Iterator, List, Mapping, Optional, Tuple

from .bounded_repr import short_repr, short_text
from .component_builder import closest_hint, describe_hint, matches_hint
from .loading import ConfigError

__all__ = ['KNOWN_TOP_LEVEL_KEYS', 'DEFAULT_BEST_METRIC', 'OPTIMIZERS', 'DECAY_ALIASES',
           'ARGUMENT_TYPES', 'KeyOrigins', 'is_number', 'is_piecewise', 'check_config',
           'check_finite_numbers', 'check_export_section', 'check_optimization_config']

# the top-level keys a config may hold; keys starting with '_' are free for users' own notes
KNOWN_TOP_LEVEL_KEYS = ('batch_size', 'iters', 'train_dataset', 'val_dataset', 'model', 'optimizer',
                        'lr_scheduler', 'learning_rate', 'export', 'best_metric')
# the sections that must be mappings when present
_MAPPING_KEYS = ('model', 'train_dataset', 'val_dataset', 'optimizer', 'lr_scheduler', 'learning_rate')
# learning rates (must be >= 0): these keys inside these sections
_RATE_SECTIONS = ('lr_scheduler', 'learning_rate', 'optimizer')
_RATE_KEYS = ('learning_rate', 'value', 'values', 'end_lr', 'eta_min', 'warmup_start_lr')
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
    # parameter groups (builders/param_groups.py)
    'layer_decay': float, 'no_weight_decay': List[str],
}


def is_number(value: Any) -> bool:
    """Whether a config value is a real number (YAML int or float, not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_piecewise(type_name: Any) -> bool:
    """Whether a scheduler ``type`` (class name or ``learning_rate.decay`` alias) is PiecewiseDecay."""
    return (isinstance(type_name, str)
            and DECAY_ALIASES.get(type_name, type_name) == 'PiecewiseDecay')


class KeyOrigins:
    """Where each key of a merged config came from, for error messages: the file, or the
    command line (``--opts KEY=VALUE``, ``--iters``) that set it or a mapping above it.

    Args:
        path: the config file.
        overrides: key path (``'iters'``, ``'model.backbone'``) -> what set it on the
            command line (``'--opts iters=-1'``, ``'--iters'``).
    """

    def __init__(self, path: str, overrides: Optional[Mapping[str, str]] = None):
        self.path = path
        self.overrides = dict(overrides or {})

    def of(self, key_path: str) -> str:
        """``'<file>'``, or ``'--opts iters=-1 (on <file>)'`` when the command line set it."""
        for key, origin in sorted(self.overrides.items(), key=lambda kv: -len(kv[0])):
            if key_path == key or key_path.startswith((key + '.', key + '[')):
                return f'{short_text(origin, 120)} (on {self.path})'
        return self.path


def _origins(path: Any) -> KeyOrigins:
    return path if isinstance(path, KeyOrigins) else KeyOrigins(path)


def check_config(dic: Dict[str, Any], path: str, file_keys: Collection[str],
                 overrides: Optional[Mapping[str, str]] = None) -> None:
    """Check a merged config's top-level keys, counts, section kinds, numbers and
    optimization values.

    Args:
        dic: the merged mapping (after ``_base_`` and ``--opts``).
        path: the config file, named in messages.
        file_keys: the top-level keys the file itself held, to tell a typo in the file from
            one in ``--opts``.
        overrides: the keys the command line set (see ``KeyOrigins``): their errors name
            the flag rather than the file.
    Raises ConfigError naming the key (and the file or flag) and what was expected.
    """
    origins = KeyOrigins(path, overrides)
    for key in dic:
        if key in KNOWN_TOP_LEVEL_KEYS or (isinstance(key, str) and key.startswith('_')):
            continue
        where = path if key in file_keys else f'--opts (on {path})'
        guess = closest_hint(str(key), KNOWN_TOP_LEVEL_KEYS)
        raise ConfigError(f'{where}: unknown top-level key "{short_text(str(key), 80)}"{guess}; '
                          f'known keys: {", ".join(KNOWN_TOP_LEVEL_KEYS)} (keys starting with "_" '
                          f'are free)')
    for key in ('iters', 'batch_size'):
        value = dic.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ConfigError(f'{origins.of(key)}: key "{key}" must be a positive integer, got '
                              f'{short_repr(value)}')
    for key in _MAPPING_KEYS:
        value = dic.get(key)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f'{origins.of(key)}: key "{key}" must be a mapping, got '
                              f'{type(value).__name__}')
    check_finite_numbers(dic, origins)
    check_export_section(dic.get('export'), origins)
    check_optimization_config(dic, origins)


def _walk_numbers(dic: Dict[str, Any]) -> Iterator[Tuple[str, Any]]:
    """``(key path, value)`` of every number in ``dic`` (``lr_scheduler.values[1]``), the
    free ``_`` keys of the top level left out. ``dic`` must be bounded (``expanded_size``)."""
    # a stack walked in the file's order: children pushed last-first
    stack = [(str(k), v) for k, v in reversed(list(dic.items())) if not str(k).startswith('_')]
    while stack:
        key_path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f'{key_path}.{k}', v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((f'{key_path}[{i}]', v) for i, v in reversed(list(enumerate(value))))
        elif is_number(value):
            yield key_path, value


def check_finite_numbers(dic: Dict[str, Any], origins: Any) -> None:
    """Refuse NaN and infinite numbers anywhere in the config (``.nan``, ``.inf``,
    ``--learning_rate nan``), and negative learning rates. Raises ConfigError naming the key."""
    origins = _origins(origins)
    for key_path, value in _walk_numbers(dic):
        if not math.isfinite(value):
            raise ConfigError(f'{origins.of(key_path)}: "{key_path}" is {value}; every number of '
                              f'a config must be finite')
        section, _, rest = key_path.partition('.')
        name = re.sub(r'\[\d+\]$', '', rest.rsplit('.', 1)[-1])
        if section in _RATE_SECTIONS and name in _RATE_KEYS and value < 0:
            raise ConfigError(f'{origins.of(key_path)}: "{key_path}" is {value}; a learning rate '
                              f'must be >= 0')


def check_export_section(section: Any, origins: Any) -> None:
    """The ``export`` section PaddleSeg configs may carry: a mapping whose only key is
    ``transforms``, a list of ``{type: ...}`` mappings. Raises ConfigError naming the key."""
    if section is None:
        return
    origins = _origins(origins)
    if not isinstance(section, dict):
        raise ConfigError(f'{origins.of("export")}: key "export" must be a mapping (PaddleSeg\'s '
                          f'"export: {{transforms: [...]}}"), got {type(section).__name__}')
    for key in section:
        if key != 'transforms':
            raise ConfigError(f'{origins.of("export")}: "export.{short_text(str(key), 80)}" is not '
                              f'a key of the export section; it holds only "transforms"')
    transforms = section.get('transforms')
    if transforms is not None and (not isinstance(transforms, list) or not all(
            isinstance(t, dict) and isinstance(t.get('type'), str) for t in transforms)):
        raise ConfigError(f'{origins.of("export.transforms")}: "export.transforms" must be a list '
                          f'of transforms ({{type: Name, ...}}), got {short_repr(transforms)}')


def _check_types(section: Dict[str, Any], where: str, origins: KeyOrigins) -> None:
    for key, value in section.items():
        hint = ARGUMENT_TYPES.get(key)
        if key != 'type' and hint is not None and not matches_hint(value, hint):
            raise ConfigError(f'{origins.of(f"{where}.{key}")}: "{where}.{key}" must be '
                              f'{describe_hint(hint)}, got {short_repr(value)} '
                              f'({type(value).__name__})')


def check_optimization_config(dic: Dict[str, Any], path: Any) -> None:
    """Check the ``optimizer``, ``lr_scheduler`` and ``learning_rate`` sections' value types
    and the optimizer type, without importing paddle. Raises ConfigError naming the key.

    ``path``: the config file, or a ``KeyOrigins`` (then command-line keys name their flag).
    """
    origins = _origins(path)
    optimizer = dic.get('optimizer') or {}
    type_name = optimizer.get('type', 'sgd')
    if not isinstance(type_name, str) or type_name.lower() not in OPTIMIZERS:
        raise ConfigError(f'{origins.of("optimizer.type")}: "optimizer.type" is '
                          f'"{short_text(str(type_name), 80)}"; expected one of '
                          f'{", ".join(sorted(OPTIMIZERS))}')
    _check_types(optimizer, 'optimizer', origins)
    _check_types(dic.get('lr_scheduler') or {}, 'lr_scheduler', origins)
    block = dic.get('learning_rate') or {}
    if 'value' in block and not is_number(block['value']):
        raise ConfigError(f'{origins.of("learning_rate.value")}: "learning_rate.value" must be a '
                          f'number, got {short_repr(block["value"])}')
    if isinstance(block.get('decay'), dict):
        _check_types(block['decay'], 'learning_rate.decay', origins)

"""``Config``: a training/evaluation configuration read from YAML. Config holds; builders build.

Reading (``_base_``, merging, ``--opts``) lives in :mod:`.config_loading`. The values are
checked when the config is read (top-level keys, counts, optimizer and schedule argument
types, ``best_metric``); the built parts (``cfg.model``, ``cfg.optimizer``, ...) are cached
calls into :mod:`paddlematting.builders`, imported when first used.
"""
import copy
import os
from typing import Any, Dict, Optional, Sequence

import yaml

from . import manager
from .component_builder import build_component, check_component, closest_hint
from .config_loading import ConfigError, apply_opts, load_yaml_with_bases, merge_config, parse_yaml

__all__ = ['Config', 'ConfigError', 'apply_opts', 'build_component', 'check_component',
           'load_yaml_with_bases', 'merge_config', 'parse_yaml', 'DEFAULT_BEST_METRIC']

# the top-level keys a config may hold; keys starting with '_' are free for users' own notes
KNOWN_TOP_LEVEL_KEYS = ('batch_size', 'iters', 'train_dataset', 'val_dataset', 'model', 'optimizer',
                        'lr_scheduler', 'learning_rate', 'export', 'best_metric')
# the validation metric that picks best_model when the config names none (lower is better)
DEFAULT_BEST_METRIC = 'sad'


class Config:
    """A training/evaluation configuration read from YAML.

    Args:
        path: the YAML file.
        opts: ``['key.sub=value', ...]`` overrides (YAML values), applied last.
        iters, batch_size, learning_rate: the common command-line overrides; ``None``
            keeps the file's value.

    Built parts (each built once, on first access, by :mod:`paddlematting.builders`):
    ``model``, ``train_dataset``, ``val_dataset``, ``val_transforms``, ``lr_scheduler``,
    ``optimizer``.
    """

    def __init__(self, path: str, opts: Optional[Sequence[str]] = None,
                 iters: Optional[int] = None, batch_size: Optional[int] = None,
                 learning_rate: Optional[float] = None):
        self.path = os.path.abspath(path)
        dic = load_yaml_with_bases(self.path)
        self._file_keys = set(dic)  # to tell a typo in the file from one in --opts
        dic = apply_opts(dic, opts or [])
        if iters is not None:
            dic['iters'] = iters
        if batch_size is not None:
            dic['batch_size'] = batch_size
        if learning_rate is not None:
            dic = _override_learning_rate(dic, learning_rate, self.path)
        self.dic = dic
        self._built: Dict[str, Any] = {}
        self._validate()

    # ------------------------------------------------------------------ plain values
    def _validate(self) -> None:
        for key in self.dic:
            if key in KNOWN_TOP_LEVEL_KEYS or (isinstance(key, str) and key.startswith('_')):
                continue
            where = self.path if key in self._file_keys else f'--opts (on {self.path})'
            guess = closest_hint(str(key), KNOWN_TOP_LEVEL_KEYS)
            raise ConfigError(f'{where}: unknown top-level key "{key}"{guess}; known keys: '
                              f'{", ".join(KNOWN_TOP_LEVEL_KEYS)} (keys starting with "_" are free)')
        for key in ('iters', 'batch_size'):
            value = self.dic.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ConfigError(f'{self.path}: key "{key}" must be a positive integer, got {value!r}')
        for key in ('model', 'train_dataset', 'val_dataset', 'optimizer', 'lr_scheduler', 'learning_rate'):
            value = self.dic.get(key)
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f'{self.path}: key "{key}" must be a mapping, got {type(value).__name__}')
        from ..builders.optimizer import check_optimization_config
        check_optimization_config(self.dic, self.path)
        self.best_metric  # noqa: B018  (checked now, not at the first evaluation)

    @property
    def best_metric(self) -> str:
        """The registered metric (lower-case name, lower is better) that picks best_model."""
        name = self.dic.get('best_metric', DEFAULT_BEST_METRIC)
        known = [cls.name for cls in manager.METRICS.components_dict.values()]
        if not isinstance(name, str) or name.lower() not in known:
            raise ConfigError(f'{self.path}: "best_metric" is {name!r}; expected one of the '
                              f'registered metrics: {", ".join(known)}')
        return name.lower()

    @property
    def iters(self) -> int:
        if 'iters' not in self.dic:
            raise ConfigError(f'{self.path}: key "iters" is missing (or pass --iters)')
        return self.dic['iters']

    @property
    def batch_size(self) -> int:
        return self.dic.get('batch_size', 1)

    @property
    def model_config(self) -> Dict[str, Any]:
        return self._section('model')

    @property
    def train_dataset_config(self) -> Dict[str, Any]:
        return self._section('train_dataset')

    @property
    def val_dataset_config(self) -> Dict[str, Any]:
        return self._section('val_dataset')

    def _section(self, key: str) -> Dict[str, Any]:
        if not self.dic.get(key):
            raise ConfigError(f'{self.path}: key "{key}" is missing')
        return self.dic[key]

    # ------------------------------------------------------------------ built parts
    def _build_once(self, key: str, factory):
        if key not in self._built:
            self._built[key] = factory()
        return self._built[key]

    @property
    def model(self):
        """The model with the config's ``pretrained`` weights (``builders.build_model``)."""
        from ..builders.model import build_model
        return self._build_once('model', lambda: build_model(self))

    @property
    def train_dataset(self):
        """The training dataset (``builders.build_dataset``)."""
        from ..builders.dataset import build_dataset
        return self._build_once('train_dataset', lambda: build_dataset(self, 'train_dataset'))

    @property
    def val_dataset(self):
        """The validation dataset (``builders.build_dataset``)."""
        from ..builders.dataset import build_dataset
        return self._build_once('val_dataset', lambda: build_dataset(self, 'val_dataset'))

    @property
    def val_transforms(self) -> list:
        """The val dataset's transforms, built, without the dataset
        (``builders.build_val_transforms``)."""
        from ..builders.dataset import build_val_transforms
        return self._build_once('val_transforms', lambda: build_val_transforms(self))

    @property
    def lr_scheduler(self):
        """A ``paddle.optimizer.lr.LRScheduler`` or a float for a constant rate
        (``builders.build_lr_scheduler``)."""
        from ..builders.optimizer import build_lr_scheduler
        return self._build_once('lr_scheduler', lambda: build_lr_scheduler(self))

    @property
    def optimizer(self):
        """The paddle optimizer over ``self.model``'s parameters with ``self.lr_scheduler``
        (``builders.build_optimizer``)."""
        from ..builders.optimizer import build_optimizer
        return self._build_once('optimizer', lambda: build_optimizer(
            self, self.model.parameters(), self.lr_scheduler))

    # ------------------------------------------------------------------ display
    def to_yaml(self) -> str:
        return yaml.safe_dump(self.dic, sort_keys=False, default_flow_style=None)

    def __str__(self) -> str:
        return self.to_yaml()

    def __repr__(self) -> str:
        return f'Config({self.path!r})'


def _override_learning_rate(dic: Dict[str, Any], lr: float, path: str) -> Dict[str, Any]:
    """Set the base learning rate of whichever schedule the config uses.

    PiecewiseDecay has no single base rate: its ``values`` are rescaled so that the
    first equals ``lr`` and the ratios between steps are kept.
    """
    dic = copy.deepcopy(dic)
    sched = dic.get('lr_scheduler')
    if sched:
        if sched.get('type') == 'PiecewiseDecay' and sched.get('values'):
            sched['values'] = _rescaled_rates(sched['values'], lr)
        else:
            sched['learning_rate'] = lr
    else:
        block = dic.setdefault('learning_rate', {})
        block['value'] = lr
        decay = block.get('decay')
        if isinstance(decay, dict) and decay.get('values') and _is_piecewise(decay.get('type')):
            decay['values'] = _rescaled_rates(decay['values'], lr)
    return dic


def _is_piecewise(type_name: Any) -> bool:
    """Whether a scheduler ``type`` (class name or ``learning_rate.decay`` alias) is PiecewiseDecay."""
    from ..builders.optimizer import DECAY_ALIASES
    return (isinstance(type_name, str)
            and DECAY_ALIASES.get(type_name, type_name) == 'PiecewiseDecay')


def _rescaled_rates(values: Sequence[Any], lr: float) -> list:
    """PiecewiseDecay ``values`` scaled so that the first is exactly ``lr``, ratios kept.

    A schedule starting at 0 has no ratios to keep: every step becomes ``lr``.
    """
    first = float(values[0])
    if not first:
        return [lr] * len(values)
    return [lr] + [lr * float(v) / first for v in values[1:]]

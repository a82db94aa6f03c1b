"""``Config``: a training/evaluation configuration read from YAML. Config holds; builders build.

Reading (``_base_``, merging, ``--opts``) lives in :mod:`.loading` and the checks in
:mod:`.schema`; both run when the config is read (top-level keys, counts, optimizer and
schedule argument types, ``best_metric``). Config builds nothing: the objects it describes
(model, datasets, optimizer, schedule) come from ``paddlematting.builders``
(``build_model(cfg)``, or ``Built(cfg).model`` and friends, PaddleSeg's builder object).
"""
import copy
import os
from typing import Any, Dict, Optional, Sequence

import yaml

from .bounded_repr import short_repr
from . import manager
from .loading import ConfigError, apply_opts, load_yaml_with_bases, opts_keys
from .schema import DEFAULT_BEST_METRIC, KeyOrigins, check_config, is_piecewise

__all__ = ['Config', 'ConfigError', 'DEFAULT_BEST_METRIC']

# the keys --learning_rate sets (see _override_learning_rate)
_LEARNING_RATE_KEYS = ('lr_scheduler.learning_rate', 'lr_scheduler.values', 'learning_rate.value',
                       'learning_rate.decay.values')
# the attributes Config once built itself; reading one says where it is built now
BUILT_PARTS = ('model', 'train_dataset', 'val_dataset', 'val_transforms', 'lr_scheduler',
               'optimizer')


class Config:
    """A training/evaluation configuration read from YAML.

    Args:
        path: the YAML file.
        opts: ``['key.sub=value', ...]`` overrides (YAML values), applied last.
        iters, batch_size, learning_rate: the common command-line overrides; ``None``
            keeps the file's value.

    The objects it describes are built by ``paddlematting.builders``: ``Built(cfg).model``,
    ``.train_dataset``, ``.val_dataset``, ``.val_transforms``, ``.lr_scheduler``,
    ``.optimizer`` (what ``cfg.model`` ... were before config became a layer of its own).
    """

    def __init__(self, path: str, opts: Optional[Sequence[str]] = None,
                 iters: Optional[int] = None, batch_size: Optional[int] = None,
                 learning_rate: Optional[float] = None):
        self.path = os.path.abspath(path)
        dic = load_yaml_with_bases(self.path)
        self._file_keys = set(dic)  # to tell a typo in the file from one in --opts
        dic = apply_opts(dic, opts or [])
        # what the command line set, so that its errors name the flag, not the file
        self._overrides = {key: f'--opts {item}' for key, item in opts_keys(opts).items()}
        if iters is not None:
            dic['iters'] = iters
            self._overrides['iters'] = '--iters'
        if batch_size is not None:
            dic['batch_size'] = batch_size
            self._overrides['batch_size'] = '--batch_size'
        if learning_rate is not None:
            dic = _override_learning_rate(dic, learning_rate)
            self._overrides.update(dict.fromkeys(_LEARNING_RATE_KEYS, '--learning_rate'))
        self.dic = dic
        self._validate()

    # ------------------------------------------------------------------ plain values
    def _validate(self) -> None:
        check_config(self.dic, self.path, self._file_keys, self._overrides)
        self.best_metric  # noqa: B018  (checked now, not at the first evaluation)

    def where(self, key_path: str) -> str:
        """Where ``key_path`` (``'model.hr_channels'``) was set, for error messages: the
        file, or ``'--opts KEY=VALUE (on <file>)'`` / ``'--iters (on <file>)'``."""
        return KeyOrigins(self.path, self._overrides).of(key_path)

    @property
    def best_metric(self) -> str:
        """The registered metric (lower-case name, lower is better) that picks best_model."""
        name = self.dic.get('best_metric', DEFAULT_BEST_METRIC)
        known = [cls.name for cls in manager.METRICS.components_dict.values()]
        if not isinstance(name, str) or name.lower() not in known:
            raise ConfigError(f'{self.path}: "best_metric" is {short_repr(name)}; expected one of '
                              f'the registered metrics: {", ".join(known)}')
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

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes Config does not have
        if name in BUILT_PARTS:
            raise AttributeError(f'Config builds nothing: use paddlematting.builders.Built(cfg).{name} '
                                 f'(from paddlematting.builders import Built)')
        raise AttributeError(f'{type(self).__name__!r} object has no attribute {name!r}')

    # ------------------------------------------------------------------ display
    def to_yaml(self) -> str:
        return yaml.safe_dump(self.dic, sort_keys=False, default_flow_style=None)

    def __str__(self) -> str:
        return self.to_yaml()

    def __repr__(self) -> str:
        return f'Config({self.path!r})'


def _override_learning_rate(dic: Dict[str, Any], lr: float) -> Dict[str, Any]:
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
        if isinstance(decay, dict) and decay.get('values') and is_piecewise(decay.get('type')):
            decay['values'] = _rescaled_rates(decay['values'], lr)
    return dic


def _rescaled_rates(values: Sequence[Any], lr: float) -> list:
    """PiecewiseDecay ``values`` scaled so that the first is exactly ``lr``, ratios kept.

    A schedule starting at 0 has no ratios to keep: every step becomes ``lr``.
    """
    first = float(values[0])
    if not first:
        return [lr] * len(values)
    return [lr] + [lr * float(v) / first for v in values[1:]]

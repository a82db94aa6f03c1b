"""``Config``: a training/evaluation configuration read from YAML.

Reading (``_base_``, merging, ``--opts``) lives in :mod:`.config_loading`; building
components by ``type`` from the registries in :mod:`.component_builder`. Dataset roots
stay relative to the current directory, as in PaddleSeg.
"""
import copy
import inspect
import math
import numbers
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import yaml

from . import manager
from .component_builder import build_component, check_component, closest_hint
from .config_loading import ConfigError, apply_opts, load_yaml_with_bases, merge_config, parse_yaml

__all__ = ['Config', 'ConfigError', 'apply_opts', 'build_component', 'check_component',
           'load_yaml_with_bases', 'merge_config', 'parse_yaml']

# Where each top-level component section looks its `type` up first; nested
# components (a backbone inside a model, transforms inside a dataset) search all.
_SECTION_REGISTRY = {
    'model': manager.MODELS,
    'train_dataset': manager.DATASETS,
    'val_dataset': manager.DATASETS,
}

# the top-level keys a config may hold; keys starting with '_' are free for users' own notes
KNOWN_TOP_LEVEL_KEYS = ('batch_size', 'iters', 'train_dataset', 'val_dataset', 'model', 'optimizer',
                        'lr_scheduler', 'learning_rate', 'export')

# optimizer `type` -> paddle.optimizer class name; sgd with momentum becomes Momentum
_OPTIMIZERS = {'sgd': 'SGD', 'momentum': 'Momentum', 'adam': 'Adam', 'adamw': 'AdamW'}
# `learning_rate.decay.type` short names (PaddleSeg's) -> paddle.optimizer.lr classes
_DECAY_ALIASES = {'poly': 'PolynomialDecay', 'piecewise': 'PiecewiseDecay',
                  'cosine': 'CosineAnnealingDecay'}


class Config:
    """A training/evaluation configuration read from YAML.

    Args:
        path: the YAML file.
        opts: ``['key.sub=value', ...]`` overrides (YAML values), applied last.
        iters, batch_size, learning_rate: the common command-line overrides; ``None``
            keeps the file's value.

    Built parts (each built once, on first access): ``model``, ``train_dataset``,
    ``val_dataset``, ``val_transforms``, ``lr_scheduler``, ``optimizer``.
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
        return self._build_once('train_dataset', lambda: build_component(
            self.train_dataset_config, 'train_dataset', self.path, _SECTION_REGISTRY['train_dataset']))

    @property
    def val_dataset(self):
        return self._build_once('val_dataset', lambda: build_component(
            self.val_dataset_config, 'val_dataset', self.path, _SECTION_REGISTRY['val_dataset']))

    @property
    def val_transforms(self) -> list:
        """The val dataset's transforms, built (what a predictor prepares images with).

        The dataset itself is not built (its root may not exist where one predicts), but
        its argument names and simple types are checked, so ``val_dataset.transfroms`` is
        reported instead of silently meaning "no transforms".
        """
        return self._build_once('val_transforms', self._build_val_transforms)

    def _build_val_transforms(self) -> list:
        section = self.val_dataset_config
        if 'type' in section:
            check_component(section, 'val_dataset', self.path, _SECTION_REGISTRY['val_dataset'])
        return build_component(section.get('transforms', []), 'val_dataset.transforms', self.path)

    @property
    def lr_scheduler(self):
        """A ``paddle.optimizer.lr.LRScheduler`` or a float for a constant rate."""
        return self._build_once('lr_scheduler', self._build_lr_scheduler)

    def _build_lr_scheduler(self):
        """Build ``lr_scheduler`` (or the older ``learning_rate`` block) as PaddleSeg does.

        ``type`` names a ``paddle.optimizer.lr`` class (``poly``/``piecewise``/``cosine`` also
        accepted in ``learning_rate.decay``, whose ``learning_rate.value`` is handed over as
        :meth:`_hand_over_block_value` says); the other keys are its arguments, except
        ``warmup_iters`` (int >= 0) and ``warmup_start_lr`` (float, required with warmup_iters,
        as in PaddleSeg): with ``warmup_iters > 0`` the result is a ``LinearWarmup`` whose rate
        rises linearly from ``warmup_start_lr`` at step 0 to the wrapped scheduler's starting
        rate at step ``warmup_iters``, after which the wrapped scheduler runs from its step 0.
        PolynomialDecay's ``decay_steps`` and CosineAnnealingDecay's ``T_max`` default to the
        steps left after warmup, ``iters - warmup_iters`` (at least 1).
        """
        import paddle
        block_value = None  # learning_rate.value of the older block form
        if self.dic.get('lr_scheduler'):
            spec = dict(self.dic['lr_scheduler'])
            where = 'lr_scheduler'
        elif self.dic.get('learning_rate'):
            lr = self.dic['learning_rate']
            if 'value' not in lr:
                raise ConfigError(f'{self.path}: key "learning_rate.value" is missing')
            decay = lr.get('decay')
            if not decay:
                return float(lr['value'])
            if not isinstance(decay, dict):
                raise ConfigError(f'{self.path}: key "learning_rate.decay" must be a mapping, '
                                  f'got {type(decay).__name__}')
            spec = dict(decay)
            block_value = lr['value']
            where = 'learning_rate.decay'
        else:
            raise ConfigError(f'{self.path}: neither "lr_scheduler" nor "learning_rate" is set')
        type_name = spec.pop('type', None)
        if type_name is None:
            raise ConfigError(f'{self.path}: key "{where}.type" is missing')
        type_name = _DECAY_ALIASES.get(type_name, type_name)
        cls = getattr(paddle.optimizer.lr, type_name, None)
        if cls is None or not inspect.isclass(cls):
            known = sorted(n for n in dir(paddle.optimizer.lr) if n.endswith('Decay') or n.endswith('LR'))
            raise ConfigError(f'{self.path}: "{where}.type" is "{type_name}", not a paddle.optimizer.lr '
                              f'scheduler; known: {", ".join(known)}')
        if block_value is not None:
            self._hand_over_block_value(spec, cls, type_name, block_value)
        warmup_iters, warmup_start_lr = self._pop_warmup(spec, where)
        # PaddleSeg's conventions: decay over the whole run (after warmup) unless told otherwise
        if type_name == 'PolynomialDecay':
            spec.setdefault('decay_steps', max(self.iters - warmup_iters, 1))
            spec.setdefault('end_lr', 0.0)
            spec.setdefault('power', 0.9)
        if type_name == 'CosineAnnealingDecay':
            spec.setdefault('T_max', max(self.iters - warmup_iters, 1))
        try:
            scheduler = cls(**spec)
        except TypeError as e:
            raise ConfigError(f'{self.path}: cannot build "{where}" ({type_name}): {e}') from e
        if warmup_iters == 0:
            return scheduler
        base_lr = float(scheduler.last_lr)  # the wrapped scheduler's rate at its step 0
        if not warmup_start_lr < base_lr:
            raise ConfigError(f'{self.path}: "{where}.warmup_start_lr" ({warmup_start_lr}) must be below '
                              f'the rate the warmup rises to: the starting rate of {type_name}, {base_lr}')
        return paddle.optimizer.lr.LinearWarmup(learning_rate=scheduler, warmup_steps=warmup_iters,
                                                start_lr=warmup_start_lr, end_lr=base_lr)

    def _hand_over_block_value(self, spec: Dict[str, Any], cls: type, type_name: str,
                               value: Any) -> None:
        """Give ``learning_rate.value`` to the decay ``spec`` (a dict of ``cls``'s arguments).

        A scheduler taking ``learning_rate`` (PolynomialDecay, CosineAnnealingDecay, ...) gets
        it unless ``learning_rate.decay`` sets it. PiecewiseDecay has no single base rate: its
        ``learning_rate.decay.values`` (one rate per interval) are required and must start at
        ``value``. Any other scheduler without a ``learning_rate`` argument is refused, since
        ``value`` would be ignored. Raises ConfigError naming the key.
        """
        if 'learning_rate' in inspect.signature(cls).parameters:
            spec.setdefault('learning_rate', value)
            return
        if type_name != 'PiecewiseDecay':
            raise ConfigError(f'{self.path}: "learning_rate.decay.type" {type_name} takes no '
                              f'learning_rate, so "learning_rate.value" cannot set its rate; write an '
                              f'"lr_scheduler" section with {type_name}\'s own arguments instead')
        values = spec.get('values')
        if not values or not isinstance(values, list):
            found = 'missing' if values is None else f'{values!r}'
            raise ConfigError(f'{self.path}: "learning_rate.decay" is piecewise but '
                              f'"learning_rate.decay.values" is {found}; expected a list of rates, one '
                              f'per interval (one more than "boundaries"), starting at '
                              f'learning_rate.value ({value!r})')
        first = values[0]
        if (not _is_number(first) or not _is_number(value)
                or not math.isclose(first, value, rel_tol=1e-9, abs_tol=0.0)):
            raise ConfigError(f'{self.path}: "learning_rate.value" ({value!r}) must equal the first of '
                              f'"learning_rate.decay.values" ({first!r}), the rate PiecewiseDecay '
                              f'starts at')

    def _pop_warmup(self, spec: Dict[str, Any], where: str) -> Tuple[int, Optional[float]]:
        """Remove ``warmup_iters``/``warmup_start_lr`` from ``spec``; return them checked.

        Returns ``(warmup_iters, warmup_start_lr)``: an int >= 0 (0 without warmup) and a
        float (None when warmup_iters is 0).
        """
        has_iters = 'warmup_iters' in spec
        iters = spec.pop('warmup_iters', 0)
        start_lr = spec.pop('warmup_start_lr', None)
        if isinstance(iters, bool) or not isinstance(iters, int) or iters < 0:
            raise ConfigError(f'{self.path}: "{where}.warmup_iters" must be an integer >= 0, got {iters!r}')
        if not has_iters and start_lr is not None:
            raise ConfigError(f'{self.path}: "{where}.warmup_start_lr" is set but "{where}.warmup_iters" '
                              f'is not; set both to warm up, or neither')
        if iters == 0:
            return 0, None
        if start_lr is None:
            raise ConfigError(f'{self.path}: "{where}.warmup_iters" is {iters} but "{where}.warmup_start_lr" '
                              f'is missing; set the rate the warmup starts from (e.g. 1.0e-5)')
        if not _is_number(start_lr) or start_lr < 0:
            raise ConfigError(f'{self.path}: "{where}.warmup_start_lr" must be a number >= 0, '
                              f'got {start_lr!r}')
        return iters, float(start_lr)

    @property
    def optimizer(self):
        """The paddle optimizer over ``self.model``'s parameters with ``self.lr_scheduler``."""
        return self._build_once('optimizer', self._build_optimizer)

    def _build_optimizer(self):
        import paddle
        spec = dict(self.dic.get('optimizer') or {'type': 'sgd'})
        type_name = str(spec.pop('type', 'sgd')).lower()
        if type_name not in _OPTIMIZERS:
            raise ConfigError(f'{self.path}: "optimizer.type" is "{type_name}"; expected one of '
                              f'{", ".join(sorted(_OPTIMIZERS))}')
        if type_name == 'sgd' and spec.get('momentum'):
            type_name = 'momentum'
        if type_name == 'sgd':
            spec.pop('momentum', None)
        cls = getattr(paddle.optimizer, _OPTIMIZERS[type_name])
        try:
            return cls(learning_rate=self.lr_scheduler, parameters=self.model.parameters(), **spec)
        except TypeError as e:
            raise ConfigError(f'{self.path}: cannot build "optimizer" ({cls.__name__}): {e}') from e

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


def _is_number(value: Any) -> bool:
    """Whether a config value is a real number (YAML int or float, not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_piecewise(type_name: Any) -> bool:
    """Whether a scheduler ``type`` (class name or ``learning_rate.decay`` alias) is PiecewiseDecay."""
    return (isinstance(type_name, str)
            and _DECAY_ALIASES.get(type_name, type_name) == 'PiecewiseDecay')


def _rescaled_rates(values: Sequence[Any], lr: float) -> list:
    """PiecewiseDecay ``values`` scaled so that the first is exactly ``lr``, ratios kept.

    A schedule starting at 0 has no ratios to keep: every step becomes ``lr``.
    """
    first = float(values[0])
    if not first:
        return [lr] * len(values)
    return [lr] + [lr * float(v) / first for v in values[1:]]

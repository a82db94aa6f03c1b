"""YAML configs with ``_base_`` inheritance, command-line overrides and component building.

A config file is a YAML mapping. ``_base_`` (a path or a list of paths, relative to
the file) names files whose content is deep-merged underneath: mappings merge key by
key, everything else (lists included) is replaced by the child's value, and a child
mapping with ``_inherited_: false`` replaces its base mapping instead of merging.

Components are built from the registries in :mod:`paddlematting.utils.manager` by
their ``type`` key, recursively (``model.backbone`` is built before ``model``).
Dataset roots stay relative to the current directory, as in PaddleSeg.
"""
import copy
import difflib
import inspect
import os
import re
from typing import Any, Dict, List, Optional, Sequence

import yaml

from . import manager

BASE_KEY = '_base_'
INHERIT_KEY = '_inherited_'

# Where each top-level component section looks its `type` up first; nested
# components (a backbone inside a model, transforms inside a dataset) search all.
_SECTION_REGISTRY = {
    'model': manager.MODELS,
    'train_dataset': manager.DATASETS,
    'val_dataset': manager.DATASETS,
}

# optimizer `type` -> paddle.optimizer class name; sgd with momentum becomes Momentum
_OPTIMIZERS = {'sgd': 'SGD', 'momentum': 'Momentum', 'adam': 'Adam', 'adamw': 'AdamW'}
# `learning_rate.decay.type` short names (PaddleSeg's) -> paddle.optimizer.lr classes
_DECAY_ALIASES = {'poly': 'PolynomialDecay', 'piecewise': 'PiecewiseDecay',
                  'cosine': 'CosineAnnealingDecay'}


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 insists on ``1.0e-3``)."""


_ConfigLoader.add_implicit_resolver(
    'tag:yaml.org,2002:float',
    re.compile(r'''^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$''', re.X),
    list('-+0123456789.'))


def parse_yaml(text: str) -> Any:
    """Parse YAML text with the config loader (scientific notation without a dot is a float)."""
    return yaml.load(text, Loader=_ConfigLoader)


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and key."""


# ----------------------------------------------------------------------------- loading
def load_yaml_with_bases(path: str, _chain: Optional[List[str]] = None) -> Dict[str, Any]:
    """Read ``path`` and merge its ``_base_`` files underneath it (any depth).

    Returns the merged mapping without ``_base_`` keys. Raises ConfigError for a
    missing file, a cycle or a file whose top level is not a mapping.
    """
    path = os.path.abspath(path)
    chain = list(_chain or [])
    if path in chain:
        cycle = ' -> '.join(chain[chain.index(path):] + [path])
        raise ConfigError(f'Config inheritance cycle: {cycle}')
    if not os.path.isfile(path):
        if chain:
            raise ConfigError(f'{chain[-1]}: key "_base_" names {path}, which does not exist')
        raise ConfigError(f'Config file {path} does not exist')
    with open(path, encoding='utf-8') as f:
        try:
            dic = parse_yaml(f) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f'{path}: invalid YAML: {e}') from e
    if not isinstance(dic, dict):
        raise ConfigError(f'{path}: the top level must be a mapping of keys, got {type(dic).__name__}')
    bases = dic.pop(BASE_KEY, None)
    if bases is None:
        return dic
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f'{path}: key "_base_" must be a file path or a list of paths')
    merged: Dict[str, Any] = {}
    for base in bases:
        base_path = os.path.join(os.path.dirname(path), base)
        merged = merge_config(merged, load_yaml_with_bases(base_path, chain + [path]))
    return merge_config(merged, dic)


def merge_config(base: Dict[str, Any], child: Dict[str, Any]) -> Dict[str, Any]:
    """Deep merge ``child`` onto ``base`` (neither is modified)."""
    out = copy.deepcopy(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            if value.get(INHERIT_KEY, True) is False:
                out[key] = {k: copy.deepcopy(v) for k, v in value.items() if k != INHERIT_KEY}
            else:
                out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_opts(dic: Dict[str, Any], opts: Sequence[str]) -> Dict[str, Any]:
    """Apply ``['a.b.c=value', ...]`` overrides; values are parsed as YAML.

    Intermediate mappings are created when missing. Returns a new mapping.
    """
    out = copy.deepcopy(dic)
    for item in opts or []:
        if not isinstance(item, str) or '=' not in item:
            raise ConfigError(f'--opts item {item!r} must look like key.subkey=value')
        key, raw = item.split('=', 1)
        key = key.strip()
        if not key or any(not part for part in key.split('.')):
            raise ConfigError(f'--opts item {item!r} has an empty key')
        try:
            value = parse_yaml(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise ConfigError(f'--opts item {item!r}: value is not valid YAML ({e})') from e
        node = out
        parts = key.split('.')
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = '.'.join(parts[:depth + 1])
                raise ConfigError(f'--opts item {item!r}: "{where}" is a {type(child).__name__}, not a mapping')
            node = child
        node[parts[-1]] = value
    return out


# ----------------------------------------------------------------------------- building
def _lookup_component(type_name: str, key_path: str, source: str, preferred=None):
    registries = list(manager.ALL_REGISTRIES)
    if preferred is not None:
        registries.remove(preferred)
        registries.insert(0, preferred)
    for registry in registries:
        if type_name in registry.components_dict:
            return registry.components_dict[type_name]
    pool = preferred.components_dict if preferred is not None else {
        k: v for r in registries for k, v in r.components_dict.items()}
    names = sorted(pool)
    close = difflib.get_close_matches(type_name, names, n=1)
    hint = f' Did you mean "{close[0]}"?' if close else ''
    raise ConfigError(f'{source}: "{key_path}.type" is "{type_name}", which is not registered.{hint} '
                      f'Registered: {", ".join(names)}')


def build_component(cfg: Any, key_path: str, source: str = '<config>', preferred=None) -> Any:
    """Build every ``{'type': ...}`` mapping inside ``cfg`` (lists and mappings recursed).

    ``key_path`` (e.g. ``model.backbone``) and ``source`` (the config file) only serve
    error messages: unknown types list the registered names and the closest match,
    missing or unexpected arguments name the component and the key.
    """
    if isinstance(cfg, list):
        return [build_component(v, f'{key_path}[{i}]', source) for i, v in enumerate(cfg)]
    if not isinstance(cfg, dict):
        return cfg
    if 'type' not in cfg:
        return {k: build_component(v, f'{key_path}.{k}', source) for k, v in cfg.items()}
    type_name = cfg['type']
    if not isinstance(type_name, str):
        raise ConfigError(f'{source}: "{key_path}.type" must be a string, got {type_name!r}')
    cls = _lookup_component(type_name, key_path, source, preferred)
    kwargs = {k: build_component(v, f'{key_path}.{k}', source) for k, v in cfg.items() if k != 'type'}
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as e:
        raise ConfigError(f'{source}: cannot build "{key_path}" ({type_name}): {e}; '
                          f'signature is {type_name}{inspect.signature(cls)}') from e
    except ValueError:  # builtins without a signature: let the call decide
        pass
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f'{source}: building "{key_path}" ({type_name}) failed: {e}') from e


# ----------------------------------------------------------------------------- Config
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
        return self._build_once('model', lambda: build_component(
            self.model_config, 'model', self.path, _SECTION_REGISTRY['model']))

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
        """The val dataset's transforms, built (what a predictor prepares images with)."""
        return self._build_once('val_transforms', lambda: build_component(
            self.val_dataset_config.get('transforms', []), 'val_dataset.transforms', self.path))

    @property
    def lr_scheduler(self):
        """A ``paddle.optimizer.lr.LRScheduler`` or a float for a constant rate."""
        return self._build_once('lr_scheduler', self._build_lr_scheduler)

    def _build_lr_scheduler(self):
        import paddle
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
            spec = dict(decay)
            spec.setdefault('learning_rate', lr['value'])
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
        # PaddleSeg's conventions: decay over the whole run unless told otherwise
        if type_name == 'PolynomialDecay':
            spec.setdefault('decay_steps', self.iters)
            spec.setdefault('end_lr', 0.0)
            spec.setdefault('power', 0.9)
        if type_name == 'CosineAnnealingDecay':
            spec.setdefault('T_max', self.iters)
        try:
            return cls(**spec)
        except TypeError as e:
            raise ConfigError(f'{self.path}: cannot build "{where}" ({type_name}): {e}') from e

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
            first = float(sched['values'][0])
            sched['values'] = [lr * float(v) / first for v in sched['values']] if first else [lr] * len(sched['values'])
        else:
            sched['learning_rate'] = lr
    else:
        dic.setdefault('learning_rate', {})['value'] = lr
    return dic

"""YAML configs with ``_base_`` inheritance, command-line overrides and component building.

A config file is a YAML mapping. ``_base_`` (a path or a list of paths, relative to
the file) names files whose content is deep-merged underneath: mappings merge key by
key, everything else (lists included) is replaced by the child's value, and a child
mapping with ``_inherited_: false`` replaces its base mapping instead of merging.

Components are built from the registries in :mod:`paddlematting.utils.manager` by
their ``type`` key, recursively (``model.backbone`` is built before ``model``).
Dataset roots stay relative to the current directory, as in PaddleSeg.
"""
import collections.abc
import copy
import difflib
import inspect
import numbers
import os
import re
import types
import typing
from typing import Any, Dict, List, Optional, Sequence, Tuple

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

# the top-level keys a config may hold; keys starting with '_' are free for users' own notes
KNOWN_TOP_LEVEL_KEYS = ('batch_size', 'iters', 'train_dataset', 'val_dataset', 'model', 'optimizer',
                        'lr_scheduler', 'learning_rate', 'export')

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


def _closest(name: str, candidates: Sequence[str]) -> str:
    """`` (did you mean "x"?)`` for the closest of ``candidates`` to ``name``, or ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ''


# ----------------------------------------------------------------------------- argument types
# Only "simple" hints are checked: int, float, bool, str, None, and Union/Optional, List,
# Sequence and Tuple built from them. Anything else (a class, Callable, Any, a dict...)
# accepts every value, so a built component passes wherever the hint is a class.
_SCALAR_HINTS = (int, float, bool, str, type(None))
_SEQUENCE_ORIGINS = (list, collections.abc.Sequence)
_UNION_ORIGINS = (typing.Union, types.UnionType)  # Optional[int] and int | None


def _is_checkable(hint: Any) -> bool:
    """Whether ``hint`` is simple enough for :func:`_matches_hint` to judge a value by it."""
    if hint in _SCALAR_HINTS:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _UNION_ORIGINS:
        return all(_is_checkable(a) for a in args)
    if origin in _SEQUENCE_ORIGINS:
        return len(args) == 1 and _is_checkable(args[0])
    if origin is tuple:
        items = args[:1] if len(args) == 2 and args[1] is Ellipsis else args
        return bool(items) and all(_is_checkable(a) for a in items)
    return False


def _matches_hint(value: Any, hint: Any) -> bool:
    """Whether a config ``value`` fits the checkable ``hint``.

    Ints fit float hints; bools fit only bool hints; lists and tuples fit sequence hints
    (YAML has no tuples), strings never do.
    """
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _UNION_ORIGINS:
        return any(_matches_hint(value, a) for a in args)
    if not isinstance(value, (list, tuple)):
        return False
    if origin in _SEQUENCE_ORIGINS or (len(args) == 2 and args[1] is Ellipsis):
        return all(_matches_hint(v, args[0]) for v in value)
    return len(value) == len(args) and all(_matches_hint(v, a) for v, a in zip(value, args))


def _describe_hint(hint: Any) -> str:
    """A checkable hint in words: ``int``, ``int or None``, ``a list of float``."""
    if hint in _SCALAR_HINTS:
        return 'None' if hint is type(None) else hint.__name__
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _UNION_ORIGINS:
        # None last: "int or None" reads better than "None or int"
        ordered = [a for a in args if a is not type(None)] + [a for a in args if a is type(None)]
        return ' or '.join(_describe_hint(a) for a in ordered)
    if origin in _SEQUENCE_ORIGINS or (len(args) == 2 and args[1] is Ellipsis):
        inner = _describe_hint(args[0])
        return f'a list of ({inner})' if ' or ' in inner else f'a list of {inner}'
    return f'a list of {len(args)} values [{", ".join(_describe_hint(a) for a in args)}]'


def _type_hints(cls: Any) -> Dict[str, Any]:
    """The resolved parameter hints of a class's ``__init__`` (or a function); {} when they
    cannot be resolved (string annotations naming unknown types, builtins, ...)."""
    target = cls.__init__ if inspect.isclass(cls) else cls
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable hints must never block building: just skip the check
        return {}


def _check_arguments(cls: Any, kwargs: Dict[str, Any], key_path: str, source: str,
                     type_name: str) -> None:
    """Refuse argument names ``cls`` does not take and values that contradict simple hints.

    Raises ConfigError naming ``<key_path>.<argument>``: for an unknown name with the
    closest parameter name, for a wrong type with the expected type and the value given.
    """
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    named = {n: p for n, p in params.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        for key in kwargs:
            if key not in named:
                takes = ', '.join(named) or 'no arguments'
                raise ConfigError(f'{source}: "{key_path}.{key}" is not an argument of {type_name}'
                                  f'{_closest(str(key), list(named))}; it takes: {takes}')
    hints = _type_hints(cls)
    for key, value in kwargs.items():
        hint = hints.get(key)
        if key not in named or hint is None or not _is_checkable(hint):
            continue
        if value is None and named[key].default is None:
            continue
        if not _matches_hint(value, hint):
            raise ConfigError(f'{source}: "{key_path}.{key}" must be {_describe_hint(hint)}, '
                              f'got {value!r} ({type(value).__name__})')


def check_component(cfg: Dict[str, Any], key_path: str, source: str = '<config>',
                    preferred=None) -> Any:
    """Check a ``{'type': ...}`` mapping's argument names and simple types without building it.

    Returns the registered class. Raises ConfigError as :func:`build_component` would;
    missing arguments are not checked.
    """
    type_name = cfg['type']
    if not isinstance(type_name, str):
        raise ConfigError(f'{source}: "{key_path}.type" must be a string, got {type_name!r}')
    cls = _lookup_component(type_name, key_path, source, preferred)
    _check_arguments(cls, {k: v for k, v in cfg.items() if k != 'type'}, key_path, source, type_name)
    return cls


def build_component(cfg: Any, key_path: str, source: str = '<config>', preferred=None) -> Any:
    """Build every ``{'type': ...}`` mapping inside ``cfg`` (lists and mappings recursed).

    ``key_path`` (e.g. ``model.backbone``) and ``source`` (the config file) only serve
    error messages: unknown types list the registered names and the closest match;
    unknown arguments name the key and the closest parameter; values contradicting a simple
    type hint (int, float, bool, str, Optional/Union/List/Tuple of those) name the key and
    the expected type; missing arguments name the component and the key. A component's
    own arguments are checked before its nested components are built.
    """
    if isinstance(cfg, list):
        return [build_component(v, f'{key_path}[{i}]', source) for i, v in enumerate(cfg)]
    if not isinstance(cfg, dict):
        return cfg
    if 'type' not in cfg:
        return {k: build_component(v, f'{key_path}.{k}', source) for k, v in cfg.items()}
    cls = check_component(cfg, key_path, source, preferred)
    type_name = cfg['type']
    raw = {k: v for k, v in cfg.items() if k != 'type'}
    try:
        inspect.signature(cls).bind(**raw)
    except TypeError as e:
        raise ConfigError(f'{source}: cannot build "{key_path}" ({type_name}): {e}; '
                          f'signature is {type_name}{inspect.signature(cls)}') from e
    except ValueError:  # builtins without a signature: let the call decide
        pass
    kwargs = {k: build_component(v, f'{key_path}.{k}', source) for k, v in raw.items()}
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
            guess = _closest(str(key), KNOWN_TOP_LEVEL_KEYS)
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
        accepted in ``learning_rate.decay``); the other keys are its arguments, except
        ``warmup_iters`` (int >= 0) and ``warmup_start_lr`` (float, required with warmup_iters,
        as in PaddleSeg): with ``warmup_iters > 0`` the result is a ``LinearWarmup`` whose rate
        rises linearly from ``warmup_start_lr`` at step 0 to the wrapped scheduler's starting
        rate at step ``warmup_iters``, after which the wrapped scheduler runs from its step 0.
        PolynomialDecay's ``decay_steps`` and CosineAnnealingDecay's ``T_max`` default to the
        steps left after warmup, ``iters - warmup_iters`` (at least 1).
        """
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
        if isinstance(start_lr, bool) or not isinstance(start_lr, numbers.Real) or start_lr < 0:
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
            first = float(sched['values'][0])
            sched['values'] = [lr * float(v) / first for v in sched['values']] if first else [lr] * len(sched['values'])
        else:
            sched['learning_rate'] = lr
    else:
        dic.setdefault('learning_rate', {})['value'] = lr
    return dic

"""Building components from ``{'type': Name, **arguments}`` mappings through the registries.

Before a class is called, its arguments are checked against its signature and simple type
hints, so a bad config names the key, the expected type and the closest valid name instead
of failing somewhere inside the constructor.
"""
import collections.abc
import difflib
import inspect
import numbers
import types
import typing
from typing import Any, Dict, Optional, Sequence

from .bounded_repr import short_error, short_repr
from . import manager
from .loading import ConfigError
from .manager import ComponentManager


def _lookup_component(type_name: str, key_path: str, source: str,
                      preferred: Optional[ComponentManager] = None) -> Any:
    """The class registered as ``type_name``, searching ``preferred`` first, then every registry."""
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


def closest_hint(name: str, candidates: Sequence[str]) -> str:
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


def is_checkable(hint: Any) -> bool:
    """Whether ``hint`` is simple enough for :func:`matches_hint` to judge a value by it."""
    if hint in _SCALAR_HINTS:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _UNION_ORIGINS:
        return all(is_checkable(a) for a in args)
    if origin in _SEQUENCE_ORIGINS:
        return len(args) == 1 and is_checkable(args[0])
    if origin is tuple:
        items = args[:1] if len(args) == 2 and args[1] is Ellipsis else args
        return bool(items) and all(is_checkable(a) for a in items)
    return False


def matches_hint(value: Any, hint: Any) -> bool:
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
        return any(matches_hint(value, a) for a in args)
    if not isinstance(value, (list, tuple)):
        return False
    if origin in _SEQUENCE_ORIGINS or (len(args) == 2 and args[1] is Ellipsis):
        return all(matches_hint(v, args[0]) for v in value)
    return len(value) == len(args) and all(matches_hint(v, a) for v, a in zip(value, args))


def describe_hint(hint: Any) -> str:
    """A checkable hint in words: ``int``, ``int or None``, ``a list of float``."""
    if hint in _SCALAR_HINTS:
        return 'None' if hint is type(None) else hint.__name__
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _UNION_ORIGINS:
        # None last: "int or None" reads better than "None or int"
        ordered = [a for a in args if a is not type(None)] + [a for a in args if a is type(None)]
        return ' or '.join(describe_hint(a) for a in ordered)
    if origin in _SEQUENCE_ORIGINS or (len(args) == 2 and args[1] is Ellipsis):
        inner = describe_hint(args[0])
        return f'a list of ({inner})' if ' or ' in inner else f'a list of {inner}'
    return f'a list of {len(args)} values [{", ".join(describe_hint(a) for a in args)}]'


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
                                  f'{closest_hint(str(key), list(named))}; it takes: {takes}')
    hints = _type_hints(cls)
    for key, value in kwargs.items():
        hint = hints.get(key)
        if key not in named or hint is None or not is_checkable(hint):
            continue
        if value is None and named[key].default is None:
            continue
        if not matches_hint(value, hint):
            raise ConfigError(f'{source}: "{key_path}.{key}" must be {describe_hint(hint)}, '
                              f'got {short_repr(value)} ({type(value).__name__})')


def check_component(cfg: Dict[str, Any], key_path: str, source: str = '<config>',
                    preferred: Optional[ComponentManager] = None) -> Any:
    """Check a ``{'type': ...}`` mapping's argument names and simple types without building it.

    Returns the registered class. Raises ConfigError as :func:`build_component` would;
    missing arguments are not checked. ``preferred`` as in :func:`build_component`.
    """
    type_name = cfg['type']
    if not isinstance(type_name, str):
        raise ConfigError(f'{source}: "{key_path}.type" must be a string, got {short_repr(type_name)}')
    cls = _lookup_component(type_name, key_path, source, preferred)
    _check_arguments(cls, {k: v for k, v in cfg.items() if k != 'type'}, key_path, source, type_name)
    return cls


def build_component(cfg: Any, key_path: str, source: str = '<config>',
                    preferred: Optional[ComponentManager] = None) -> Any:
    """Build every ``{'type': ...}`` mapping inside ``cfg`` (lists and mappings recursed).

    ``key_path`` (e.g. ``model.backbone``) and ``source`` (the config file) only serve
    error messages: unknown types list the registered names and the closest match;
    unknown arguments name the key and the closest parameter; values contradicting a simple
    type hint (int, float, bool, str, Optional/Union/List/Tuple of those) name the key and
    the expected type; missing arguments name the component and the key. A component's
    own arguments are checked before its nested components are built.

    ``preferred`` (e.g. ``manager.MODELS`` for the ``model`` section) is searched first for
    ``cfg``'s own ``type``, and is the registry listed when that type is unknown; None, and
    every nested component, searches all registries.
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
        raise ConfigError(f'{source}: cannot build "{key_path}" ({type_name}): {short_error(e)}; '
                          f'signature is {type_name}{inspect.signature(cls)}') from e
    except ValueError:  # builtins without a signature: let the call decide
        pass
    kwargs = {k: build_component(v, f'{key_path}.{k}', source) for k, v in raw.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f'{source}: building "{key_path}" ({type_name}) failed: '
                          f'{short_error(e)}') from e
    except (MemoryError, RuntimeError, IndexError, OverflowError) as e:
        # Paddle's C++ failures (an allocation of absurd size is a MemoryError): the cause is
        # nearly always a size argument, so those given are named
        sizes = size_arguments(cls, raw, key_path)
        hint = f'; check {", ".join(sizes)}' if sizes else ''
        raise ConfigError(f'{source}: building "{key_path}" ({type_name}) failed: '
                          f'{short_error(e)}{hint}') from e


def size_arguments(cls: Any, arguments: Dict[str, Any], key_path: str) -> list:
    """``['model.hr_channels=100000 (default 32)', ...]``: the integer arguments in
    ``arguments`` (a component's own, not nested ones) that differ from ``cls``'s defaults,
    largest first; those are what an absurd allocation comes from."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    found = []
    for name, value in arguments.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            continue
        default = params[name].default if name in params else inspect.Parameter.empty
        if default == value or (isinstance(default, tuple) and list(default) == value):
            continue
        shown = '' if default is inspect.Parameter.empty else f' (default {short_repr(default)})'
        found.append((max(abs(v) for v in values), f'{key_path}.{name}={short_repr(value)}{shown}'))
    return [text for _, text in sorted(found, key=lambda pair: -pair[0])]

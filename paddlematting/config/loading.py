"""Reading config YAML: ``_base_`` inheritance, deep merge and ``--opts`` overrides.

A config file is a YAML mapping. ``_base_`` (a path or a list of paths, relative to
the file) names files whose content is deep-merged underneath: mappings merge key by
key, everything else (lists included) is replaced by the child's value, and a child
mapping with ``_inherited_: false`` replaces its base mapping instead of merging.
"""
import copy
import os
import re
from typing import Any, Dict, List, Optional, Sequence

import yaml

BASE_KEY = '_base_'
INHERIT_KEY = '_inherited_'


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

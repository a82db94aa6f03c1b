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

from .bounded_repr import short_repr

BASE_KEY = '_base_'
INHERIT_KEY = '_inherited_'
# the most values a config file or --opts value may hold once its YAML aliases are expanded
# (real configs hold a few hundred); a "billion laughs" file is refused before anything walks it
MAX_CONFIG_VALUES = 100_000
# what a YAML value that is only a block-scalar indicator parses to ('' for '|'): such an
# --opts value is taken as the text it is (train_dataset.separator=|)
_BLOCK_INDICATORS = re.compile(r'^[|>][-+]?$')


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


def expanded_size(data: Any, limit: int = MAX_CONFIG_VALUES) -> Optional[int]:
    """How many values ``data`` holds with every YAML alias expanded (each list item, mapping
    value and the container itself count one), without expanding anything.

    Returns None when the count passes ``limit`` or a list/mapping contains itself (an alias
    to an enclosing node), i.e. when walking ``data`` naively would not end in time.
    """
    sizes: Dict[int, int] = {}
    active = set()  # containers whose walk is under way: meeting one again is a cycle
    stack = [(data, False)]
    while stack:
        node, finished = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        children = list(node.values()) if isinstance(node, dict) else node
        if finished:
            active.discard(id(node))
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            if total > limit:
                return None
            sizes[id(node)] = total
            continue
        if id(node) in sizes:
            continue
        if id(node) in active:
            return None
        active.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, (dict, list)))
    return sizes.get(id(data), 1)


def _parse_bounded(text: Any, where: str) -> Any:
    """``parse_yaml(text)``, refusing with a ConfigError naming ``where`` what could not be
    walked in time: nesting deeper than Python recurses, aliases expanding past
    ``MAX_CONFIG_VALUES`` values, or a value containing itself."""
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as e:
        raise ConfigError(f'{where}: invalid YAML: {e}') from e
    except RecursionError:
        raise ConfigError(f'{where}: the YAML is nested too deeply to be a config') from None
    if expanded_size(data) is None:
        raise ConfigError(f'{where}: the YAML aliases (*name) expand to more than '
                          f'{MAX_CONFIG_VALUES:,} values, or a value contains itself; a config '
                          f'never needs that many (is it a "billion laughs" file?)')
    return data


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
        dic = _parse_bounded(f, path) or {}
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
            raise ConfigError(f'--opts item {short_repr(item)} must look like key.subkey=value')
        key, raw = item.split('=', 1)
        key = key.strip()
        if not key or any(not part for part in key.split('.')):
            raise ConfigError(f'--opts item {short_repr(item)} has an empty key')
        value = _opts_value(raw, item)
        node = out
        parts = key.split('.')
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = '.'.join(parts[:depth + 1])
                raise ConfigError(f'--opts item {short_repr(item)}: "{where}" is a '
                                  f'{type(child).__name__}, not a mapping')
            node = child
        node[parts[-1]] = value
    return out


def _opts_value(raw: str, item: str) -> Any:
    """The YAML value of one ``--opts`` item (None when empty; ``|`` and ``>`` as themselves)."""
    text = raw.strip()
    if not text:
        return None
    if _BLOCK_INDICATORS.match(text):
        return text  # YAML reads a lone '|' as an empty block: the user meant the character
    return _parse_bounded(raw, f'--opts item {short_repr(item)}')


def opts_keys(opts: Optional[Sequence[str]]) -> Dict[str, str]:
    """``{'a.b': 'a.b=value'}`` for the well-formed items of ``opts`` (the keys they set)."""
    found = {}
    for item in opts or []:
        if isinstance(item, str) and '=' in item:
            found[item.split('=', 1)[0].strip()] = item
    return found

"""The model zoo file: published models by name (config, weights URL, sha256, licence, task,
input size, figures), and resolving a name or a config path to what builds the model.

The shipped file is ``paddlematting/zoo/models.yml``. ``$PADDLEMATTING_ZOO`` may name more
files (separated by ``os.pathsep``) in the same layout: their entries are added, or replace
shipped ones of the same name, and their ``defaults`` override the shipped ones. That is how a
mirror, an air-gapped copy or a test points a name at other weights.

Imports no paddle (only YAML and the standard library).
"""
import difflib
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

__all__ = ['ZOO_ENV', 'TASKS', 'SHIPPED_ZOO', 'ZooEntry', 'Zoo', 'ZooFileError',
           'UnknownModelError', 'ModelChoice', 'load_zoo', 'looks_like_config', 'resolve_model']

ZOO_ENV = 'PADDLEMATTING_ZOO'
# portrait / any-object: trimap-free (a segmenter or trimap-free matting model);
# trimap: needs a trimap (a refiner); video: recurrent, made for clips
TASKS = ('portrait', 'any-object', 'trimap', 'video')
SHIPPED_ZOO = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'models.yml')
# configs/ sits next to the package in a checkout (and an editable install)
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_REQUIRED = ('config', 'weights', 'licence', 'commercial', 'task', 'input_size')
_OPTIONAL = ('title', 'sha256', 'figures', 'aliases')
_CONFIG_SUFFIXES = ('.yml', '.yaml')
_SUGGESTIONS = 3


class ZooFileError(ValueError):
    """A zoo file that cannot be read, or an entry missing a key or holding a bad value."""


class UnknownModelError(ValueError):
    """A model name that is in no zoo file; the message suggests the closest names."""


@dataclass(frozen=True)
class ZooEntry:
    """One published model. ``config`` is an absolute path; ``weights`` a URL or None."""
    name: str
    config: str
    weights: Optional[str]
    sha256: Optional[str]
    licence: str
    commercial: str
    task: str
    input_size: str
    title: str = ''
    figures: Optional[Mapping[str, Any]] = None
    aliases: Tuple[str, ...] = ()
    source_file: str = SHIPPED_ZOO

    @property
    def needs_trimap(self) -> bool:
        """A trimap-based model (a refiner), not a segmenter."""
        return self.task == 'trimap'

    def weights_spec(self) -> Optional[str]:
        """The weights URL with its pinned sha256 (``URL#sha256=<hex>``) when one is known."""
        if self.weights is None or self.sha256 is None:
            return self.weights
        return f'{self.weights}#sha256={self.sha256}'


@dataclass(frozen=True)
class Zoo:
    """Every entry by name, and the default chain (``defaults['model']``, ``['refiner']``)."""
    entries: Dict[str, ZooEntry]
    defaults: Dict[str, str] = field(default_factory=dict)

    def names(self) -> List[str]:
        return list(self.entries)

    def _lookup(self) -> Dict[str, str]:
        """Every name and alias, lower-cased -> entry name."""
        table = {}
        for entry in self.entries.values():
            for key in (entry.name,) + entry.aliases:
                table[key.lower()] = entry.name
        return table

    def get(self, name: str) -> ZooEntry:
        """The entry called ``name`` (or one of its aliases; case does not matter).

        Raises:
            UnknownModelError: one line naming the closest names.
        """
        lookup = self._lookup()
        found = lookup.get(name.strip().lower())
        if found is not None:
            return self.entries[found]
        close = difflib.get_close_matches(name.strip().lower(), list(lookup), n=_SUGGESTIONS * 2,
                                          cutoff=0.5)
        suggestions = list(dict.fromkeys(lookup[c] for c in close))[:_SUGGESTIONS]
        hint = f'did you mean {", ".join(suggestions)}? ' if suggestions else ''
        raise UnknownModelError(f'unknown model {name!r}: {hint}(`paddlematting models` lists '
                                f'them all; a config file path works too)')

    def default(self, role: str) -> ZooEntry:
        """The default ``'model'`` or ``'refiner'`` entry."""
        if role not in self.defaults:
            raise ZooFileError(f'{SHIPPED_ZOO}: "defaults.{role}" is missing')
        return self.get(self.defaults[role])


def _config_path(value: str, zoo_file: str) -> str:
    """A config path from a zoo file: absolute as is, else relative to the zoo file's folder
    when it exists there, else to the repository root."""
    path = os.path.expanduser(value)
    if os.path.isabs(path):
        return path
    beside = os.path.join(os.path.dirname(os.path.abspath(zoo_file)), path)
    return beside if os.path.exists(beside) else os.path.join(REPO_ROOT, path)


def _check_entry(name: str, raw: Any, zoo_file: str) -> None:
    """Raise ZooFileError (one line, naming the file, entry and key) for a malformed entry."""
    where = f'{zoo_file}: models.{name}'
    if not isinstance(raw, dict):
        raise ZooFileError(f'{where} must be a mapping of keys, got {type(raw).__name__}')
    for key in _REQUIRED:
        if key not in raw:
            raise ZooFileError(f'{where}: the key "{key}" is missing (needed: {", ".join(_REQUIRED)})')
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ZooFileError(f'{where}: unknown key(s) {", ".join(unknown)}; expected '
                           f'{", ".join(_REQUIRED + _OPTIONAL)}')
    if raw['task'] not in TASKS:
        raise ZooFileError(f'{where}.task is {raw["task"]!r}; expected one of {", ".join(TASKS)}')
    weights = raw['weights']
    if weights is not None and not str(weights).startswith(('https://', 'http://')):
        raise ZooFileError(f'{where}.weights must be an http(s) URL or null, got {weights!r}')
    digest = raw.get('sha256')
    if digest is not None and (len(str(digest)) != 64
                               or any(c not in '0123456789abcdef' for c in str(digest).lower())):
        raise ZooFileError(f'{where}.sha256 must be 64 hex digits or null, got {digest!r}')


def _entry(name: str, raw: Dict[str, Any], zoo_file: str) -> ZooEntry:
    _check_entry(name, raw, zoo_file)
    digest = raw.get('sha256')
    return ZooEntry(name=name, config=_config_path(str(raw['config']), zoo_file),
                    weights=raw['weights'], sha256=None if digest is None else str(digest).lower(),
                    licence=str(raw['licence']), commercial=str(raw['commercial']),
                    task=raw['task'], input_size=str(raw['input_size']),
                    title=str(raw.get('title') or name), figures=raw.get('figures'),
                    aliases=tuple(str(a) for a in raw.get('aliases') or ()), source_file=zoo_file)


def _read_zoo_file(path: str) -> Tuple[Dict[str, ZooEntry], Dict[str, str]]:
    """(entries, defaults) of one zoo file; ZooFileError on anything malformed."""
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f) or {}
    except OSError as error:
        raise ZooFileError(f'{path}: cannot read this zoo file ({error.strerror or error})') from None
    except yaml.YAMLError as error:
        raise ZooFileError(f'{path}: not valid YAML ({" ".join(str(error).split())})') from None
    if not isinstance(data, dict) or not isinstance(data.get('models', {}), dict):
        raise ZooFileError(f'{path}: expected a mapping with "models: {{NAME: {{...}}}}"')
    entries = {str(name): _entry(str(name), raw, path) for name, raw in (data.get('models') or {}).items()}
    defaults = data.get('defaults') or {}
    if not isinstance(defaults, dict) or set(defaults) - {'model', 'refiner'}:
        raise ZooFileError(f'{path}: "defaults" may only hold "model" and "refiner"')
    return entries, {k: str(v) for k, v in defaults.items()}


def zoo_files() -> List[str]:
    """The shipped zoo file, then those named by ``$PADDLEMATTING_ZOO`` (later ones win)."""
    extra = [p for p in os.environ.get(ZOO_ENV, '').split(os.pathsep) if p.strip()]
    return [SHIPPED_ZOO] + [os.path.abspath(os.path.expanduser(p)) for p in extra]


def load_zoo() -> Zoo:
    """Read the zoo files (see ``zoo_files``) into one ``Zoo``; names in later files win."""
    entries: Dict[str, ZooEntry] = {}
    defaults: Dict[str, str] = {}
    for path in zoo_files():
        found, found_defaults = _read_zoo_file(path)
        entries.update(found)
        defaults.update(found_defaults)
    return Zoo(entries, defaults)


def looks_like_config(spec: str) -> bool:
    """A config path rather than a zoo name: an existing file, or a .yml/.yaml name."""
    return os.path.isfile(os.path.expanduser(spec)) or spec.lower().endswith(_CONFIG_SUFFIXES)


@dataclass(frozen=True)
class ModelChoice:
    """What a model name or config path resolves to.

    ``config``: the config file; ``weights``: the user's file/URL, else the zoo's URL (with its
    pinned sha256), else None (the config's own weights, or none for classical solvers);
    ``entry``: the zoo entry when a name was given.
    """
    config: str
    weights: Optional[str]
    entry: Optional[ZooEntry] = None

    @property
    def label(self) -> str:
        return self.entry.name if self.entry else self.config


def resolve_model(spec: str, weights: Optional[str] = None, zoo: Optional[Zoo] = None) -> ModelChoice:
    """A zoo name (or alias) or a config path -> ``ModelChoice``.

    Args:
        spec: e.g. ``'modnet-mobilenetv2'`` or ``'configs/modnet/modnet_mobilenetv2.yml'``.
        weights: a local file, folder or URL that replaces the zoo's URL (or, for a config,
            the weights the config would load).
        zoo: the zoo to look names up in; default ``load_zoo()``.
    Raises:
        FileNotFoundError: a config path that does not exist.
        UnknownModelError: a name in no zoo file (closest names suggested).
    """
    spec = os.fspath(spec)
    if looks_like_config(spec):
        path = os.path.expanduser(spec)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'the config file {spec} does not exist')
        return ModelChoice(config=path, weights=weights)
    entry = (zoo or load_zoo()).get(spec)
    return ModelChoice(config=entry.config, weights=weights or entry.weights_spec(), entry=entry)

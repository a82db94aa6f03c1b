"""Configs as a layer of their own: YAML reading (``_base_``, ``--opts``), the checks, the
registries and the checked construction of ``{'type': Name, ...}`` components.

Nothing here imports paddle, or any layer above (builders, engine, predict, models): the
registries are filled by the modules the package root names, and ``paddlematting.builders``
builds what a Config describes.
"""
from . import manager
from .component_builder import build_component, check_component
from .config import Config
from .loading import ConfigError, apply_opts, load_yaml_with_bases, merge_config, parse_yaml
from .schema import DEFAULT_BEST_METRIC

__all__ = ['Config', 'ConfigError', 'manager', 'apply_opts', 'build_component', 'check_component',
           'load_yaml_with_bases', 'merge_config', 'parse_yaml', 'DEFAULT_BEST_METRIC']

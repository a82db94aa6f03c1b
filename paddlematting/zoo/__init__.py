"""The model zoo: published models by name (``models.yml``), resolved to a config and weights.

``resolve_model('modnet-mobilenetv2')`` gives the config and weights URL;
``fetch_weights(choice)`` downloads them once into the checked cache. Imports no paddle.
"""
from .catalog import (SHIPPED_ZOO, TASKS, ZOO_ENV, ModelChoice, UnknownModelError, Zoo, ZooEntry,
                      ZooFileError, load_zoo, looks_like_config, resolve_model, zoo_files)
from .tables import figures_text, markdown_table, text_table
from .weights import cached_weights_path, fetch_weights

__all__ = ['SHIPPED_ZOO', 'TASKS', 'ZOO_ENV', 'ModelChoice', 'UnknownModelError', 'Zoo', 'ZooEntry',
           'ZooFileError', 'load_zoo', 'looks_like_config', 'resolve_model', 'zoo_files',
           'figures_text', 'markdown_table', 'text_table', 'cached_weights_path', 'fetch_weights']

"""paddlematting: image matting on PaddlePaddle (PaddleSeg's Matting model zoo, classical
solvers, cut-outs, video); ``paddlematting.remove(photo)`` cuts one out in one call.

Importing the package is light: nothing here imports paddle. The component registries
(``manager.MODELS`` ...) fill themselves on their first lookup from the modules named below,
so a YAML config builds from any working directory; ``register_all()`` fills them all at once.
``paddlematting.config``, ``paddlematting.metrics``, ``paddlematting.datasets.trimap`` /
``.composition`` and ``paddlematting.utils.trimap_values`` need only numpy, scipy, OpenCV and
PyYAML.
"""
import importlib
import warnings
from typing import Any

__version__ = '0.1.0'

# paddle warns about a missing C++ compiler cache on every import; it only matters to people
# building custom operators, and would otherwise open every command's output
warnings.filterwarnings('ignore', message='No ccache found')
# paddle 3 warns once, on the first paddle.max call, that it differs from torch.max (it does:
# it returns no indices); the models here use it as paddle documents it
warnings.filterwarnings('ignore', message=r'\s*Non compatible API')

from .config import manager

# Which modules register each kind of component, imported on the registry's first lookup. The
# package root declares it because it is the one module above every layer: the registries
# (in config/) name nothing above themselves. A new model, backbone or transform registers by
# being imported from its package's __init__.py; a new dataset module is listed here (the
# datasets package imports no paddle, so that its numpy helpers stay light).
manager.MODELS.filled_by('paddlematting.models')
manager.BACKBONES.filled_by('paddlematting.models')
manager.DATASETS.filled_by('paddlematting.datasets.matting_dataset',
                           'paddlematting.datasets.benchmark_sets',
                           'paddlematting.datasets.dis5k')
manager.TRANSFORMS.filled_by('paddlematting.transforms')
manager.METRICS.filled_by('paddlematting.metrics')

# public names -> the module that defines them, imported on first access (PEP 562)
_LAZY_ATTRIBUTES = {
    'Config': 'paddlematting.config',
    'ConfigError': 'paddlematting.config',
    # the one-call API: paddle loads when a model does, not on import
    'remove': 'paddlematting.api',
    'Matting': 'paddlematting.api',
    'MattingSettings': 'paddlematting.api',
}
_SUBPACKAGES = ('api', 'builders', 'cli', 'config', 'datasets', 'engine', 'inference', 'metrics',
                'models', 'pipeline', 'predict', 'transforms', 'utils', 'zoo')

__all__ = ['Config', 'ConfigError', 'manager', 'remove', 'Matting', 'MattingSettings', 'register_all',
           '__version__']


def register_all() -> None:
    """Register every model, backbone, dataset, transform and metric now."""
    manager.register_all()


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

"""paddlematting: image matting on PaddlePaddle; ``paddlematting.remove(photo)`` cuts one out.

Importing the package is light: nothing here imports paddle. The component registries
(``manager.MODELS`` ...) fill themselves on their first lookup, so a YAML config builds from
any working directory; ``register_all()`` fills them all at once. ``paddlematting.metrics``,
``paddlematting.datasets.trimap`` / ``.composition`` and ``paddlematting.utils.trimap_values``
need only numpy, scipy and OpenCV.
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

# public names -> the module that defines them, imported on first access (PEP 562)
_LAZY_ATTRIBUTES = {
    'Config': 'paddlematting.utils.config',
    'ConfigError': 'paddlematting.utils.config',
    'manager': 'paddlematting.utils.manager',
    # the one-call API: paddle loads when a model does, not on import
    'remove': 'paddlematting.api',
    'Matting': 'paddlematting.api',
    'MattingSettings': 'paddlematting.api',
}
_SUBPACKAGES = ('api', 'builders', 'cli', 'core', 'datasets', 'inference', 'metrics', 'models',
                'pipeline', 'predict', 'transforms', 'utils', 'zoo')

__all__ = ['Config', 'ConfigError', 'manager', 'remove', 'Matting', 'MattingSettings', 'register_all',
           '__version__']


def register_all() -> None:
    """Register every model, backbone, loss, dataset, transform and metric now."""
    from .utils import manager
    manager.register_all()


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRIBUTES:
        module = importlib.import_module(_LAZY_ATTRIBUTES[name])
        return module if name == 'manager' else getattr(module, name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

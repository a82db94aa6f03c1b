"""The toolkit's component registries: a name -> class (or function) table per kind.

Registered names equal PaddleSeg Matting's, so its YAML files build unchanged. The API is the
one PaddleSeg users know (``manager.MODELS.add_component``, ``manager.MODELS['MODNet']``,
``components_dict``), written here so that nothing depends on the paddleseg package.

Registration is lazy: a registry imports the modules that fill it on its first lookup. Which
modules those are is declared by the package root (``paddlematting/__init__.py``, the one
module that knows every layer), not here, so this layer names nothing above it. So
``import paddlematting`` or ``import paddlematting.metrics`` loads no model (and no paddle);
building a config fills what it looks up.
"""
import importlib
import inspect
from typing import Any, Callable, Dict, Iterable, Sequence, Union

__all__ = ['ComponentManager', 'MODELS', 'BACKBONES', 'DATASETS', 'TRANSFORMS', 'METRICS',
           'ALL_REGISTRIES', 'register_all']

PADDLE_MISSING = ('paddlematting needs PaddlePaddle for its models and datasets, and it is not '
                  'installed. Install the CPU build with `pip install paddlepaddle==3.2.2` (or '
                  '`pip install -e .[cpu]`), or the GPU build following '
                  'https://www.paddlepaddle.org.cn/install/quick (package `paddlepaddle-gpu`).')


class ComponentManager:
    """A named registry of classes or functions, filled by the ``add_component`` decorator.

    Args:
        name: the kind, used in messages ('models').
        modules: dotted names of the modules whose import registers this kind's components;
            imported on the first lookup (``[]``, ``in``, ``len``, ``components_dict``).
            ``filled_by`` adds more later.
    """

    def __init__(self, name: str, modules: Sequence[str] = ()):
        self.name = name
        self._components: Dict[str, Any] = {}
        self._modules: tuple = ()
        self._loaded = True
        self.filled_by(*modules)

    def filled_by(self, *modules: str) -> None:
        """Declare more modules whose import registers components here (imported on the next
        lookup)."""
        new = tuple(m for m in modules if m not in self._modules)
        if new:
            self._modules += new
            self._loaded = False

    def load(self) -> None:
        """Import the modules that register this kind's components (once)."""
        if self._loaded:
            return
        self._loaded = True  # set first: those modules register (and may look up) while importing
        try:
            for module in self._modules:
                importlib.import_module(module)
        except ModuleNotFoundError as e:
            self._loaded = False
            if e.name is not None and e.name.split('.')[0] == 'paddle':
                raise ImportError(PADDLE_MISSING) from e
            raise
        except BaseException:
            self._loaded = False
            raise

    @property
    def components_dict(self) -> Dict[str, Any]:
        """The registered components by name (a live view: do not modify)."""
        self.load()
        return self._components

    def __len__(self) -> int:
        return len(self.components_dict)

    def __contains__(self, name: str) -> bool:
        return name in self.components_dict

    def __getitem__(self, name: str) -> Any:
        try:
            return self.components_dict[name]
        except KeyError:
            raise KeyError(f'{name!r} is not a registered {self.name} component; known: '
                           f'{", ".join(sorted(self._components)) or "none"}') from None

    def __repr__(self) -> str:
        return f'ComponentManager({self.name!r}, {sorted(self._components)})'

    def add_component(self, components: Union[Callable, Sequence[Callable]]):
        """Register a class or function (or a list of them) under its ``__name__``.

        Usable as a decorator; returns its argument unchanged. Registering a second,
        different object under a taken name raises ValueError (re-registering the same one,
        as a module reload does, is allowed).
        """
        for component in (components if isinstance(components, (list, tuple)) else [components]):
            if not (inspect.isclass(component) or inspect.isfunction(component)):
                raise TypeError(f'{self.name}: can only register classes or functions, '
                                f'got {type(component).__name__}')
            name = component.__name__
            old = self._components.get(name)
            if old is not None and old is not component and (
                    getattr(old, '__qualname__', None) != component.__qualname__
                    or getattr(old, '__module__', None) != component.__module__):
                raise ValueError(f'{self.name}: {name!r} is already registered by {old.__module__}')
            self._components[name] = component
        return components


# Filled by the modules the package root names (``paddlematting/__init__.py``).
MODELS = ComponentManager('models')
BACKBONES = ComponentManager('backbones')
DATASETS = ComponentManager('datasets')
TRANSFORMS = ComponentManager('transforms')
METRICS = ComponentManager('metrics')

# searched for the `type` of a config section (metrics are named by flags, not sections)
ALL_REGISTRIES: Iterable[ComponentManager] = (MODELS, BACKBONES, DATASETS, TRANSFORMS)


def register_all() -> None:
    """Fill every registry now (PaddleSeg registers everything when its package is imported)."""
    for registry in (*ALL_REGISTRIES, METRICS):
        registry.load()

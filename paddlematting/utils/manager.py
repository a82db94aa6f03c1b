"""The toolkit's component registries: a name -> class (or function) table per kind.

Registered names equal PaddleSeg Matting's, so its YAML files build unchanged. The API is the
one PaddleSeg users know (``manager.MODELS.add_component``, ``manager.MODELS['MODNet']``,
``components_dict``), written here so that nothing depends on the paddleseg package.
"""
import inspect
from typing import Any, Callable, Dict, Iterable, Sequence, Union

__all__ = ['ComponentManager', 'MODELS', 'BACKBONES', 'DATASETS', 'TRANSFORMS', 'LOSSES',
           'METRICS', 'ALL_REGISTRIES']


class ComponentManager:
    """A named registry of classes or functions, filled by the ``add_component`` decorator."""

    def __init__(self, name: str):
        self.name = name
        self._components: Dict[str, Any] = {}

    @property
    def components_dict(self) -> Dict[str, Any]:
        """The registered components by name (a live view: do not modify)."""
        return self._components

    def __len__(self) -> int:
        return len(self._components)

    def __contains__(self, name: str) -> bool:
        return name in self._components

    def __getitem__(self, name: str) -> Any:
        try:
            return self._components[name]
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


MODELS = ComponentManager('models')
BACKBONES = ComponentManager('backbones')
DATASETS = ComponentManager('datasets')
TRANSFORMS = ComponentManager('transforms')
LOSSES = ComponentManager('losses')
METRICS = ComponentManager('metrics')

ALL_REGISTRIES: Iterable[ComponentManager] = (MODELS, BACKBONES, DATASETS, TRANSFORMS, LOSSES)

"""A model loaded once for in-memory images: config + weights -> runner + val transforms.

``LoadedModel.alpha(image, trimap)`` is ``pipeline.predict_alpha`` with the model's own val
transforms, the same prepare -> run -> restore that predict.py runs, so a photo gives the same
matte here as there for the same weights and backend. The one-call API (``paddlematting.api``)
holds one per role (segmenter, refiner).
"""
import logging
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..zoo import ModelChoice, fetch_weights

__all__ = ['BACKENDS', 'RunSettings', 'LoadedModel', 'declares_trimap']

logger = logging.getLogger(__name__)

# dygraph: the paddle Layer; inference: exported once (cached by content), on the CPU engine
# its export measured fastest (``inference.Predictor``); models that cannot be exported run dygraph
BACKENDS = ('dygraph', 'inference')


@dataclass(frozen=True)
class RunSettings:
    """Where and how models run: ``device`` 'cpu' / 'gpu' / None (a GPU when one is usable),
    ``backend`` one of ``BACKENDS``."""
    device: Optional[str] = None
    backend: str = 'dygraph'

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f'backend must be one of {", ".join(BACKENDS)}, got {self.backend!r}.')


def declares_trimap(choice: ModelChoice) -> bool:
    """Whether the model of ``choice`` takes a trimap, read without building it (a zoo entry's
    task, else the config's model class declaration)."""
    if choice.entry is not None:
        return choice.entry.needs_trimap
    from ..builders.model import model_class
    from ..models.traits import model_traits
    from ..config import Config
    return 'trimap' in model_traits(model_class(Config(choice.config))).input_names


def _check_weights(choice: ModelChoice, cfg, has_parameters: bool, weights: Optional[str]) -> None:
    """A network with no weights to load would predict noise: refuse it in one line."""
    if has_parameters and weights is None and not cfg.model_config.get('pretrained'):
        what = 'has no published weights' if choice.entry else 'loads no weights (no model.pretrained)'
        raise ValueError(f'{choice.label} {what}; pass weights=FILE (--weights FILE) with a '
                         f'trained .pdparams or .safetensors file')


class LoadedModel:
    """One model, built and ready: ``alpha(image, trimap=None)`` for in-memory images.

    Not safe for concurrent calls (paddle layers and engines are not); the API serialises them.
    """

    def __init__(self, choice: ModelChoice, settings: RunSettings = RunSettings()):
        from ..builders.model import model_class
        from ..utils.device import resolve_device
        from ..models.traits import model_traits
        from ..builders import build_val_transforms
        from ..transforms import Compose
        from ..config import Config
        self.label = choice.label
        cfg = Config(choice.config)
        traits = model_traits(model_class(cfg))
        self.needs_trimap = 'trimap' in traits.input_names
        weights = fetch_weights(choice)
        device = resolve_device(settings.device)
        if settings.backend == 'inference' and traits.exportable:
            from .. import inference
            _check_weights(choice, cfg, True, weights)  # exportable: a network with parameters
            self.runner = inference.Predictor(inference.export_checkpoint_cached(cfg, weights),
                                              device=device)
        else:
            self.runner = self._dygraph_runner(choice, cfg, weights)
        self.transforms = Compose(build_val_transforms(cfg))

    @staticmethod
    def _dygraph_runner(choice: ModelChoice, cfg, weights: Optional[str]):
        from ..builders.model import build_model
        from ..pipeline.runner import dygraph_runner
        model = build_model(cfg, weights)
        _check_weights(choice, cfg, bool(model.parameters()), weights)
        model.eval()
        return dygraph_runner(model)

    def alpha(self, image: np.ndarray, trimap: Optional[np.ndarray] = None) -> np.ndarray:
        """image uint8 [H,W,3] RGB (+ trimap uint8 [H,W] {0,128,255}) -> float32 [H,W] in [0,1]."""
        from ..pipeline.prediction import predict_alpha
        if self.needs_trimap and trimap is None:
            raise ValueError(f'{self.label} needs a trimap.')
        return predict_alpha(self.runner, image, trimap if self.needs_trimap else None,
                             self.transforms)

"""``remove(image)`` and ``Matting``: the background of any photo removed in one call.

The chain: a segmenter (or trimap-free matting model) gives a soft mask; ``predict.auto_trimap``
makes a trimap from it; a trimap-based refiner (ViTMatte, GCA, DIM or a classical solver)
refines the unknown band at full resolution (``predict.refine``); the cut-out's colours are
estimated under the matte (``foreground``). This module only chains them: which model plays
which role, and what the caller gets back.

Roles:
- ``Matting()``: the zoo's default chain (``defaults`` in ``zoo/models.yml``).
- ``Matting(model)``: that model alone, exactly as predict.py runs it (no refiner), unless
  ``refiner=`` is given too. A trimap-based ``model`` (``'dim-vgg16'``) needs ``mask=`` or
  ``trimap=``.
- ``Matting(refiner=...)``: the refiner on ``mask=`` / ``trimap=``; without either, the zoo's
  default segmenter makes the mask (loaded only then).
- ``mask=`` or ``trimap=`` given to a call skip the segmenter.

Models load on first use and stay loaded. Thread safety: one call at a time per instance;
calls from several threads are serialised by a lock (paddle layers are not re-entrant), so a
server holds one ``Matting`` per worker for parallelism.
"""
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np

from ..predict.auto_trimap import BandOptions, as_unit_mask, auto_trimap
from ..predict.refine import TileOptions, has_both_known, refine_unknown
from ..zoo import ModelChoice, Zoo, load_zoo, resolve_model
from .cutout import CutoutOptions, render_cutout
from .image_types import read_input, read_map, write_output

__all__ = ['MattingSettings', 'Matting', 'remove']

_SEGMENTER, _REFINER = 'segmenter', 'refiner'


@dataclass(frozen=True)
class MattingSettings:
    """How a ``Matting`` runs: ``device`` ('cpu', 'gpu', None = a GPU when usable),
    ``backend`` ('dygraph' or 'inference': exported once and cached), the automatic trimap's
    ``band``, the refiner's ``tiles`` and the photos' pixel cap ``max_pixels`` (None: the
    default of ``utils.pixel_limit``; a larger photo is refused before it is decoded)."""
    device: Optional[str] = None
    backend: str = 'dygraph'
    band: BandOptions = field(default_factory=BandOptions)
    tiles: TileOptions = field(default_factory=TileOptions)
    max_pixels: Optional[int] = None


def _role_choices(zoo: Zoo, model: tuple, refiner: tuple) -> Dict[str, Optional[ModelChoice]]:
    """Each role's model from the (name or config, weights) pairs the caller gave; an unnamed
    segmenter is the zoo's default one, an unnamed refiner the default one only when no model
    was named either (the default chain)."""
    def choose(spec: tuple, default: Optional[str]) -> Optional[ModelChoice]:
        name = spec[0] or default
        return resolve_model(name, spec[1], zoo) if name else None

    default_chain = model[0] is None and refiner[0] is None
    return {_SEGMENTER: choose(model, zoo.defaults.get('model')),
            _REFINER: choose(refiner, zoo.defaults.get('refiner') if default_chain else None)}


class Matting:
    """Load once, cut out many photos (see the module docstring for the roles).

    Args:
        model: a zoo name or a config path: the segmenter (or a trimap-based model). None: the
            zoo's default segmenter, loaded only when a photo comes without mask/trimap.
        refiner: a zoo name or config path of a trimap-based model. None: no refiner, except
            in the default chain (neither model nor refiner named).
        weights: a file, folder or URL replacing ``model``'s zoo weights.
        refiner_weights: likewise for ``refiner``.
        settings: device, backend, band and tiles (``MattingSettings``).
    Raises:
        UnknownModelError / FileNotFoundError: a name or config that does not exist (one line).
    """

    def __init__(self, model: Optional[str] = None, refiner: Optional[str] = None,
                 weights: Optional[str] = None, refiner_weights: Optional[str] = None,
                 settings: Optional[MattingSettings] = None):
        if model is None and weights is not None:
            raise ValueError('weights= replaces a named model\'s weights: name the model too '
                             '(Matting("modnet-mobilenetv2", weights=FILE)).')
        self.settings = settings or MattingSettings()
        self._named_model = model is not None
        self._choices = _role_choices(load_zoo(), (model, weights), (refiner, refiner_weights))
        self._loaded: Dict[str, Any] = {}
        self._trimap_roles: Dict[str, bool] = {}
        self._lock = threading.RLock()

    def _takes_trimap(self, role: str) -> bool:
        """Whether the model in ``role`` is trimap-based (read from the zoo or its config)."""
        if role not in self._trimap_roles:
            from ..predict.loaded_model import declares_trimap
            choice = self._choices[role]
            self._trimap_roles[role] = choice is not None and declares_trimap(choice)
        return self._trimap_roles[role]

    def _model(self, role: str):
        """The loaded model of ``role`` (built and its weights fetched on first use)."""
        if role not in self._loaded:
            from ..predict.loaded_model import LoadedModel, RunSettings
            self._loaded[role] = LoadedModel(self._choices[role],
                                             RunSettings(self.settings.device, self.settings.backend))
        return self._loaded[role]

    def _refiner_role(self) -> Optional[str]:
        """Which role refines trimaps: the refiner, or a trimap-based model named as ``model``."""
        if self._choices[_REFINER] is not None:
            if not self._takes_trimap(_REFINER):
                raise ValueError(f'refiner {self._choices[_REFINER].label} does not take a trimap; '
                                 f'a refiner must (`paddlematting models --task trimap` lists them)')
            return _REFINER
        if self._named_model and self._takes_trimap(_SEGMENTER):
            return _SEGMENTER
        return None

    def _refiner_or_error(self) -> str:
        role = self._refiner_role()
        if role is None:
            segmenter = self._choices[_SEGMENTER]
            what = f'{segmenter.label} is a segmenter' if segmenter else 'none was named'
            raise ValueError(f'a trimap needs a trimap-based model, and {what}: pass '
                             f'refiner="closed-form" (--refiner closed-form; or '
                             f'vitmatte-small-composition-1k, gca, dim-vgg16).')
        return role

    def _segmenter_or_error(self) -> None:
        choice = self._choices[_SEGMENTER]
        if choice is None:
            raise ValueError('no segmenter: the zoo names no default model; pass mask= or '
                             'trimap= (--mask / --trimap), or name a model.')
        if self._takes_trimap(_SEGMENTER):
            raise ValueError(f'{choice.label} needs a trimap: pass mask= or trimap= (--mask / '
                             f'--trimap), or name a segmenter model (e.g. birefnet-lite, '
                             f'modnet-mobilenetv2).')

    def prepare(self, mask: bool = False, trimap: bool = False, load: bool = True) -> None:
        """Check now, and with ``load`` also load, what calls with (or without) a mask or a
        trimap will need: a trimap-based model given neither, a missing download or bad weights
        then fail here, once, before the first photo (command lines and servers call this).

        Raises the same one-line errors a call would.
        """
        roles = []
        if trimap:
            roles.append(self._refiner_or_error())
        else:
            if not mask:
                self._segmenter_or_error()
                roles.append(_SEGMENTER)
            if self._refiner_role() is not None:
                roles.append(self._refiner_role())
        if load:
            with self._lock:
                for role in dict.fromkeys(roles):
                    self._model(role)

    def _refine(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        role = self._refiner_or_error()
        model = self._model(role)
        if role == _SEGMENTER:  # the named model alone: exactly predict.py's run
            return model.alpha(image, trimap)
        return refine_unknown(model.alpha, image, trimap, self.settings.tiles)

    def _segment(self, image: np.ndarray) -> np.ndarray:
        self._segmenter_or_error()
        return self._model(_SEGMENTER).alpha(image)

    def _matte(self, image: np.ndarray, mask: Any, trimap: Any) -> np.ndarray:
        """float32 [H,W] in [0,1] for RGB ``image``, from the user's trimap, mask or the segmenter."""
        size = image.shape[:2]
        if trimap is not None:
            return self._refine(image, read_map(trimap, 'trimap', size))
        soft = as_unit_mask(read_map(mask, 'mask', size)) if mask is not None else self._segment(image)
        if self._refiner_role() is None:
            return soft
        trimap = auto_trimap(soft, self.settings.band)
        # a mask sure of one side everywhere (the object fills the photo) has nothing to refine
        return self._refine(image, trimap) if has_both_known(trimap) else soft

    def alpha(self, image: Any, mask: Any = None, trimap: Any = None) -> np.ndarray:
        """The matte of ``image`` (numpy RGB, PIL, bytes or a path): float32 [H,W] in [0,1].

        ``mask``: [H,W] uint8 0..255 (0/1: labels), bool or float in [0,1]; ``trimap``: [H,W]
        in {0,128,255} (or 0/1/2 labels); either skips the segmenter. Both are checked to be
        the image's size; a path or PIL image works for them too.
        """
        rgb, _ = read_input(image, self.settings.max_pixels)
        with self._lock:
            return self._matte(rgb, mask, trimap)

    def remove(self, image: Any, mask: Any = None, trimap: Any = None, only_mask: bool = False,
               bgcolor: Any = None, background: Any = None, fg_method: Optional[str] = None) -> Any:
        """The cut-out of ``image``, in the input's type (``api.image_types``), at its size.

        Returns RGBA uint8 [H,W,4] (colours estimated by ``fg_method``), the matte uint8 [H,W]
        with ``only_mask``, or RGB [H,W,3] composited on ``bgcolor`` ((r, g, b), '#RRGGBB')
        or ``background`` (an image or a path). ``mask``/``trimap`` as in ``alpha``.
        """
        options = CutoutOptions(only_mask, bgcolor, background, fg_method)
        rgb, kind = read_input(image, self.settings.max_pixels)
        with self._lock:
            alpha = self._matte(rgb, mask, trimap)
        return write_output(render_cutout(rgb, alpha, options), kind)


def remove(image: Any, model: Optional[str] = None, refiner: Optional[str] = None,
           weights: Optional[str] = None, **options: Any) -> Any:
    """``Matting(model, refiner, weights).remove(image, **options)`` in one call (the models
    load for this call only: hold a ``Matting`` to reuse them)."""
    return Matting(model, refiner, weights).remove(image, **options)

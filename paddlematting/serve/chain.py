"""The models of one worker, loaded once, and the cut-out of one request through the one-call API.

Each served segmenter is a ``Matting(model)`` and each refiner a ``Matting(refiner=R)``
given the segmenter's matte as its mask, so any segmenter pairs with any refiner while each
model is loaded once (``Matting(model, refiner)`` would load its own copy of both). The
chain is the API's: the refiner's ``alpha(image, mask=...)`` makes the automatic trimap
from the matte exactly as ``Matting(model, refiner)`` does.
"""
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import numpy as np

from ..api import CutoutOptions, Matting, MattingSettings
from ..api.cutout import render_cutout
from ..api.image_types import encode_png, read_input
from ..predict.auto_trimap import BandOptions
from ..utils.image_checks import CorruptImageError, TruncatedImageError
from ..utils.pixel_limit import TooManyPixelsError
from ..zoo import load_zoo
from .errors import NotAnImageError, ServeError, TooLargeError, one_line
from .params import RemoveParams
from .settings import ServeSettings

__all__ = ['ServedModels', 'Choice', 'NO_REFINER', 'decode_upload']

NO_REFINER = 'none'
Timer = Callable[[str, str, float], None]  # (model, role, seconds)


@dataclass(frozen=True)
class Choice:
    """What one request runs: segmenter and refiner names (refiner None: the matte as is)."""
    model: str
    refiner: Optional[str]
    band: Optional[BandOptions]
    cutout: CutoutOptions


def decode_upload(data: bytes, max_pixels: int) -> np.ndarray:
    """Upload bytes -> RGB uint8 [H,W,3]: 413 over ``max_pixels`` (from the header, before
    decoding, for PNG/JPEG/BMP/GIF/WebP), 422 cut off or damaged, 415 not an image."""
    try:
        return read_input(data, max_pixels)[0]
    except TooManyPixelsError as error:  # exact figures here, not megapixels
        raise TooLargeError(f'the image is {error.width}x{error.height} = '
                            f'{error.width * error.height:,} pixels, over the limit of '
                            f'{error.cap:,} pixels', 'max_pixels', max_pixels) from None
    except (TruncatedImageError, CorruptImageError):
        raise
    except ValueError as error:
        raise NotAnImageError(one_line(error)) from None


def _band(params: RemoveParams) -> Optional[BandOptions]:
    """The request's trimap thresholds (rembg's af/ab/ae, 0..255) over the defaults, or None."""
    if not params.thresholds_given():
        return None
    defaults = BandOptions()
    fg = defaults.fg_threshold if params.fg_threshold is None else params.fg_threshold / 255.0
    bg = defaults.bg_threshold if params.bg_threshold is None else params.bg_threshold / 255.0
    return BandOptions(fg_threshold=fg, bg_threshold=bg, erode_size=params.erode_size)


class ServedModels:
    """Every model this worker serves, by the name a request gives."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        api_settings = MattingSettings(device=settings.device, backend=settings.backend,
                                       max_pixels=settings.max_pixels)
        models = settings.models or ((load_zoo().defaults['model'], None),)
        self.segmenters: Dict[str, Matting] = {
            name: Matting(name, weights=weights, settings=api_settings) for name, weights in models}
        self.refiners: Dict[str, Matting] = {
            name: Matting(refiner=name, settings=api_settings) for name in settings.refiners}
        self.default_model = models[0][0]

    def load(self) -> None:
        """Load every model now (weights fetched, checked): a bad one stops the server at start."""
        for matting in self.segmenters.values():
            matting.prepare()
        for matting in self.refiners.values():
            matting.prepare(mask=True)

    def _refiner_name(self, params: RemoveParams) -> Optional[str]:
        if params.refiner is not None:
            if params.refiner == NO_REFINER:
                return None
            if params.refiner not in self.refiners:
                raise ServeError(422, f'refiner {params.refiner!r} is not served here; served: '
                                      f'{", ".join(self.refiners) or "none"} (or "none")')
            return params.refiner
        if params.alpha_matting is False:
            return None
        default = self.settings.refiner_default
        if params.alpha_matting and default is None:
            if not self.refiners:
                raise ServeError(422, 'alpha_matting (a) asks for a refiner, and this server serves '
                                      'none: start it with --refiner NAME')
            default = next(iter(self.refiners))
        return default

    def choose(self, params: RemoveParams) -> Choice:
        """The request's models and options; ServeError 422 naming what is not served."""
        model = params.model or self.default_model
        if model not in self.segmenters:
            raise ServeError(422, f'model {model!r} is not served here; served: '
                                  f'{", ".join(self.segmenters)} (start the server with --model NAME)')
        cutout = CutoutOptions(only_mask=params.only_mask, bgcolor=params.bgcolor,
                               fg_method=params.fg_method)
        return Choice(model, self._refiner_name(params), _band(params), cutout)

    def cut_out(self, data: bytes, choice: Choice, timer: Timer) -> bytes:
        """The PNG the request asked for: RGBA cut-out, gray matte or RGB composite, at the
        upload's size. Runs in the worker's inference thread (blocking)."""
        rgb = decode_upload(data, self.settings.max_pixels)
        started = time.perf_counter()
        alpha = self.segmenters[choice.model].alpha(rgb)
        timer(choice.model, 'segmenter', time.perf_counter() - started)
        if choice.refiner is not None:
            started = time.perf_counter()
            alpha = self.refiners[choice.refiner].alpha(rgb, mask=alpha, band=choice.band)
            timer(choice.refiner, 'refiner', time.perf_counter() - started)
        return encode_png(render_cutout(rgb, alpha, choice.cutout))

"""What is made from a matte, and how it is written: one module behind ``OutputOptions``.

From an image and its alpha, ``make_outputs`` makes the matte (uint8), the cut-out (RGBA with
the foreground colours estimated under the matte) and, given a background, the composite;
``output_paths`` names their files (the naming scheme) and ``write_outputs`` writes them.
Computing and writing are separate, so a caller that wants arrays (an HTTP server, a batch
job) never touches the disk. Prediction over images and videos and the saved evaluation
results all go through here.

Every cut-out the toolkit writes (predict's RGBA and composite, val's saved composites, the
demo, video composites) takes its colours from ``cutout_foreground``: the photo's own colours
would carry the old background into every semi-transparent pixel (a halo in hair).
"""
import os
from dataclasses import dataclass
from typing import List, Optional

import cv2
import numpy as np

from ..datasets.composition import composite_on_background, fit_background
from ..foreground import METHODS as _FOREGROUND_METHODS, estimate_foreground_uint8
from ..utils.image_io import write_png
from ..utils.row_bands import row_bands

__all__ = ['FG_METHODS', 'DEFAULT_FG_METHOD', 'SAVE_NAMES', 'OutputOptions', 'MatteOutputs',
           'OutputPaths', 'alpha_to_uint8', 'cutout_foreground', 'cutout_rgba', 'composite',
           'make_outputs', 'output_paths', 'write_outputs', 'save_outputs']

# --fg_method choices: an estimator of paddlematting.foreground, or 'none' (the photo's colours)
FG_METHODS = (*_FOREGROUND_METHODS, 'none')
DEFAULT_FG_METHOD = 'blur_fusion'
# how the matte is named: ours (NAME_alpha.png) or PaddleSeg contrib/Matting's (NAME.png)
SAVE_NAMES = ('default', 'paddleseg')
_ALPHA_SUFFIX = {'default': '_alpha', 'paddleseg': ''}


@dataclass(eq=False)
class OutputOptions:
    """What to make from a matte besides the matte itself, and how the files are named.

    Attributes:
        cutout: make the RGBA cut-out (``NAME_rgba.png``; images only).
        background: uint8 [Hb, Wb, 3] RGB of any size (e.g. ``predict.visualization.
            read_background``'s); given, the composite is made over it (``NAME_composite``),
            fitted to the picture (scaled up if smaller, centre-cropped). None: no composite.
        fg_method: how the cut-out's and composite's colours are estimated (``FG_METHODS``;
            'none' keeps the photo's own colours).
        save_names: 'default' names the matte ``NAME_alpha.png``; 'paddleseg' ``NAME.png``,
            as PaddleSeg contrib/Matting's predict.py did (the others keep their suffixes).
            Video mattes are always ``NAME_alpha.mp4``.
    """
    cutout: bool = True
    background: Optional[np.ndarray] = None
    fg_method: str = DEFAULT_FG_METHOD
    save_names: str = 'default'

    def __post_init__(self) -> None:
        if self.fg_method not in FG_METHODS:
            raise ValueError(f'fg_method must be one of {", ".join(FG_METHODS)}, got '
                             f'{self.fg_method!r}.')
        if self.save_names not in SAVE_NAMES:
            raise ValueError(f'save_names must be one of {SAVE_NAMES}, got {self.save_names!r}.')
        bg = self.background
        if bg is not None and (not isinstance(bg, np.ndarray) or bg.dtype != np.uint8
                               or bg.ndim != 3 or bg.shape[2] != 3 or 0 in bg.shape):
            shown = bg.shape if isinstance(bg, np.ndarray) else type(bg).__name__
            raise ValueError(f'background must be a uint8 [H, W, 3] RGB array, got {shown}.')

    @property
    def needs_foreground(self) -> bool:
        """Whether the outputs need the foreground colours (a cut-out or a composite)."""
        return self.cutout or self.background is not None


@dataclass(eq=False)
class MatteOutputs:
    """What ``make_outputs`` made for one picture of size H x W.

    Attributes:
        alpha: uint8 [H, W], 0 transparent .. 255 opaque.
        foreground: uint8 [H, W, 3] RGB, the estimated foreground colours (None when neither
            a cut-out nor a composite was asked for; with a cut-out, a view of ``rgba``'s
            colour channels).
        rgba: uint8 [H, W, 4], ``foreground`` with ``alpha`` as its fourth channel, or None.
        composite: uint8 [H, W, 3] RGB over the background, or None.
    """
    alpha: np.ndarray
    foreground: Optional[np.ndarray] = None
    rgba: Optional[np.ndarray] = None
    composite: Optional[np.ndarray] = None


@dataclass(frozen=True)
class OutputPaths:
    """Where one picture's outputs go (None: not written)."""
    alpha: str
    rgba: Optional[str] = None
    composite: Optional[str] = None

    def all(self) -> List[str]:
        """The paths that are written, matte first."""
        return [p for p in (self.alpha, self.rgba, self.composite) if p is not None]


def alpha_to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Alpha in [0, 1] (any shape, float) -> uint8 in [0, 255], rounded.

    A matte [H, W] is converted in bands of rows (``utils.row_bands``), so a 48-megapixel
    matte needs no full-size float temporaries.

    >>> alpha_to_uint8(np.array([0.0, 0.5, 1.2])).tolist()
    [0, 128, 255]
    """
    alpha = np.asarray(alpha)
    if alpha.ndim != 2:
        return _alpha_band_to_uint8(alpha)
    out = np.empty(alpha.shape, np.uint8)
    for y0, y1 in row_bands(*alpha.shape):
        out[y0:y1] = _alpha_band_to_uint8(alpha[y0:y1])
    return out


def _alpha_band_to_uint8(alpha: np.ndarray) -> np.ndarray:
    clipped = np.clip(alpha, 0.0, 1.0)
    if clipped.dtype == np.float32 and clipped.ndim == 2:
        # round(x * 255) in one pass, half to even as numpy rounds (cv2.convertScaleAbs)
        return cv2.convertScaleAbs(clipped, alpha=255.0)
    return np.round(clipped * 255.0).astype(np.uint8)


def cutout_foreground(image: np.ndarray, alpha: np.ndarray, method: str = DEFAULT_FG_METHOD,
                      out: Optional[np.ndarray] = None) -> np.ndarray:
    """The colours a cut-out should carry: ``image``'s foreground colours under ``alpha``.

    Args:
        image: uint8 [H, W, 3] RGB.
        alpha: uint8 [H, W] in [0, 255].
        method: one of ``FG_METHODS``; 'none' returns ``image`` itself (its colours still
            hold the old background where alpha is soft).
        out: optional uint8 [H, W, 3] to write into (e.g. an RGBA array's colour channels);
            it is then returned.

    Returns:
        uint8 [H, W, 3] RGB (see ``paddlematting.foreground.estimate_foreground_uint8``:
        blur fusion works in bands, so memory grows by the uint8 result only).
    """
    if method not in FG_METHODS:
        raise ValueError(f'fg_method must be one of {", ".join(FG_METHODS)}, got {method!r}.')
    if method != 'none':
        return estimate_foreground_uint8(image, alpha, method, out=out)
    if out is None:
        return image
    out[...] = image
    return out


def composite(image: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``alpha * image + (1 - alpha) * background`` as uint8 [H,W,3].

    Args:
        image: uint8 [H, W, 3] RGB: the foreground colours, normally ``cutout_foreground``'s.
        alpha: uint8 [H, W] in [0, 255].
        background: uint8 [h, w, 3] RGB of any size (scaled up if smaller, centre-cropped).
    """
    h, w = alpha.shape
    if image.shape[:2] != (h, w):
        raise ValueError(f'composite needs an image and alpha of the same size, got image '
                         f'{image.shape[:2]} and alpha {alpha.shape}.')
    return composite_on_background(image, alpha, fit_background(background, h, w, random_crop=False))


def cutout_rgba(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB uint8 [H,W,3] + alpha uint8 [H,W] -> RGBA uint8 [H,W,4]."""
    return np.concatenate([foreground, alpha[:, :, None]], axis=2)


def make_outputs(image: Optional[np.ndarray], alpha: np.ndarray,
                 options: OutputOptions) -> MatteOutputs:
    """The matte, cut-out and composite of one picture, as arrays (nothing is written).

    Args:
        image: uint8 [H, W, 3] RGB, the picture the matte belongs to; may be None when
            ``options`` asks for neither a cut-out nor a composite.
        alpha: uint8 [H, W] in [0, 255], or float [H, W] in [0, 1] (rounded to uint8).
        options: what to make (see ``OutputOptions``).
    Returns:
        ``MatteOutputs``; the foreground colours are estimated once and shared by the
        cut-out and the composite.
    """
    alpha = alpha if alpha.dtype == np.uint8 else alpha_to_uint8(alpha)
    if alpha.ndim != 2:
        raise ValueError(f'alpha must be [H, W], got shape {alpha.shape}.')
    result = MatteOutputs(alpha=alpha)
    if not options.needs_foreground:
        return result
    if image is None or image.shape[:2] != alpha.shape:
        shown = None if image is None else image.shape[:2]
        raise ValueError(f'a cut-out or composite needs the picture at the matte\'s size '
                         f'{alpha.shape}, got {shown}.')
    if options.cutout:
        # the colours are written straight into the cut-out (no separate RGB array and copy)
        result.rgba = np.empty(alpha.shape + (4,), np.uint8)
        result.rgba[:, :, 3] = alpha
        result.foreground = cutout_foreground(image, alpha, options.fg_method,
                                              out=result.rgba[:, :, :3])
    else:
        result.foreground = cutout_foreground(image, alpha, options.fg_method)
    if options.background is not None:
        result.composite = composite(result.foreground, alpha, options.background)
    return result


def output_paths(save_dir: str, name: str, options: OutputOptions,
                 extension: str = '.png') -> OutputPaths:
    """Where the outputs of the input named ``name`` go (the naming scheme).

    Args:
        save_dir: the output folder.
        name: the input's output name relative to save_dir, without extension
            (``people/a``; see ``predict.input_collection``).
        options: which outputs exist and how the matte is named.
        extension: '.png' for pictures, '.mp4' for videos (no cut-out; the matte is
            always ``NAME_alpha.mp4``, never named like the input video).
    Returns:
        ``save_dir/NAME_alpha.png`` (or ``NAME.png``), ``NAME_rgba.png`` with a cut-out and
        ``NAME_composite.png`` with a background.
    """
    base = os.path.join(save_dir, name)
    video = extension != '.png'
    alpha_suffix = '_alpha' if video else _ALPHA_SUFFIX[options.save_names]
    return OutputPaths(
        alpha=base + alpha_suffix + extension,
        rgba=base + '_rgba.png' if options.cutout and not video else None,
        composite=base + '_composite' + extension if options.background is not None else None)


def write_outputs(outputs: MatteOutputs, paths: OutputPaths,
                  input_path: Optional[str] = None) -> OutputPaths:
    """Write ``outputs`` to ``paths`` as PNGs (each under a temporary name, then renamed).

    Only what both exists and has a path is written. Raises ValueError, before writing
    anything, when a path is the input file itself (``input_path``): an input is never
    overwritten. Returns ``paths``.
    """
    pairs = [(paths.alpha, outputs.alpha), (paths.rgba, outputs.rgba),
             (paths.composite, outputs.composite)]
    pairs = [(path, array) for path, array in pairs if path is not None and array is not None]
    if input_path is not None:
        for path, _ in pairs:
            if os.path.abspath(path) == os.path.abspath(input_path):
                raise ValueError(f'{path} would overwrite the input {input_path} (e.g. '
                                 f'--save_names paddleseg into the input folder); choose '
                                 f'another --save_dir')
    for path, array in pairs:
        write_png(path, array)
    return paths


def save_outputs(outputs: MatteOutputs, save_dir: str, name: str, options: OutputOptions,
                 input_path: Optional[str] = None) -> OutputPaths:
    """``write_outputs`` at ``output_paths(save_dir, name, options)``: one picture's files."""
    return write_outputs(outputs, output_paths(save_dir, name, options), input_path)

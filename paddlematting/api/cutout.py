"""What ``Matting.remove`` gives back for a photo and its matte: the cut-out (RGBA, estimated
foreground colours), the matte alone, or the cut-out composited on a colour or an image.

The pictures come from ``pipeline.outputs.make_outputs`` (what predict.py writes), so a cut-out
made here and one written by predict.py agree; this module only maps the API's keywords onto
its ``OutputOptions``.
"""
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import numpy as np

__all__ = ['CutoutOptions', 'render_cutout']

Colour = Union[str, Sequence[int]]


@dataclass(frozen=True)
class CutoutOptions:
    """What ``Matting.remove`` returns.

    Attributes:
        only_mask: the matte alone, uint8 [H, W].
        bgcolor: composite on this colour: (r, g, b) with 0..255, '#RRGGBB' or 'r,g,b'.
        background: composite on this image (numpy RGB, PIL image, a path or a colour string),
            scaled up if smaller and centre-cropped to the photo.
        fg_method: how the cut-out's colours are estimated under soft alpha: 'blur_fusion',
            'multilevel' or 'none' (the photo's own colours); None: the toolkit's default
            (blur_fusion).
    """
    only_mask: bool = False
    bgcolor: Optional[Colour] = None
    background: Optional[Any] = None
    fg_method: Optional[str] = None

    def __post_init__(self) -> None:
        if self.bgcolor is not None and self.background is not None:
            raise ValueError('give bgcolor or background, not both.')
        if self.only_mask and (self.bgcolor is not None or self.background is not None):
            raise ValueError('only_mask returns the matte alone; it cannot be composited on '
                             'bgcolor/background.')


def _colour_image(colour: Colour) -> np.ndarray:
    """A colour as a [1,1,3] uint8 image (which ``composite`` scales to the photo)."""
    from ..predict.visualization import read_background
    if isinstance(colour, str):
        return read_background(colour, what='bgcolor')
    values = list(colour)
    if len(values) != 3 or any(not isinstance(v, (int, np.integer)) or not 0 <= v <= 255 for v in values):
        raise ValueError(f'bgcolor must be (r, g, b) with integers 0..255, \'#RRGGBB\' or '
                         f'\'r,g,b\', got {colour!r}.')
    return np.array(values, dtype=np.uint8).reshape(1, 1, 3)


def _background_image(background: Any) -> np.ndarray:
    from ..predict.visualization import read_background
    from .image_types import read_input
    if isinstance(background, (str, os.PathLike)):
        return read_background(os.fspath(background), what='background')
    return read_input(background)[0]


def _background(options: CutoutOptions) -> Optional[np.ndarray]:
    if options.bgcolor is not None:
        return _colour_image(options.bgcolor)
    if options.background is not None:
        return _background_image(options.background)
    return None


def render_cutout(image: np.ndarray, alpha: np.ndarray, options: CutoutOptions) -> np.ndarray:
    """image uint8 [H,W,3] RGB, alpha float [H,W] in [0,1] -> the picture ``options`` ask for:
    uint8 [H,W] (only_mask), [H,W,3] (composited) or [H,W,4] (RGBA cut-out)."""
    from ..pipeline.outputs import DEFAULT_FG_METHOD, OutputOptions, make_outputs
    background = None if options.only_mask else _background(options)
    made = make_outputs(image, alpha, OutputOptions(
        cutout=not options.only_mask and background is None, background=background,
        fg_method=options.fg_method or DEFAULT_FG_METHOD))
    if options.only_mask:
        return made.alpha
    return made.composite if background is not None else made.rgba

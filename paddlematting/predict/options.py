"""``PredictOptions``: how ``predict_images`` and ``predict_video`` run, in one object."""
from dataclasses import dataclass, field
from typing import Optional

from ..pipeline.output_writer import WriterLimits
from ..pipeline.outputs import OutputOptions

__all__ = ['PredictOptions']


@dataclass
class PredictOptions:
    """How to predict a set of inputs; the names follow PaddleSeg Matting's predict.py flags.

    Attributes:
        outputs: what is written for each input and how it is named (``OutputOptions``:
            cut-out, background for composites, foreground estimation, save names).
        needs_trimap: the model cannot run without a trimap (DIM); inputs lacking one fail.
        batch_size: how many images the model runs at once; consecutive inputs that the
            transforms bring to the same size share a run (a folder of same-size photos runs
            in batches of ``batch_size``), others run alone. Outputs do not depend on it.
        temporal_ofd: videos only: MODNet's one-frame-delay flicker filter
            (``video.OneFrameDelay``).
        show_progress: progress bars on stderr.
        writer: how the PNGs are written: on a background thread while the next image is
            computed (the default), with at most two pictures' outputs held
            (``pipeline.output_writer.WriterLimits``).
        max_pixels: the pixel cap of each photo (and its trimap); a larger one fails alone,
            refused before it is decoded (None: ``utils.pixel_limit``'s default).
    """
    outputs: OutputOptions = field(default_factory=OutputOptions)
    needs_trimap: bool = False
    batch_size: int = 1
    temporal_ofd: bool = False
    show_progress: bool = True
    writer: WriterLimits = field(default_factory=WriterLimits)
    max_pixels: Optional[int] = None

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) \
                or self.batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {self.batch_size}.')
        if self.max_pixels is not None and (isinstance(self.max_pixels, bool)
                                            or not isinstance(self.max_pixels, int)
                                            or self.max_pixels < 1):
            raise ValueError(f'max_pixels must be a whole number >= 1, got {self.max_pixels!r}.')

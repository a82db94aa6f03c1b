"""Predict a video frame by frame: ``NAME_alpha.mp4`` (grey matte) and, given a background,
``NAME_composite.mp4`` (the cut-out, with estimated foreground colours, over it).

Both keep the input's frame rate, size and frame count. Frames are streamed (one decoded
frame, plus one more with ``temporal_ofd``, in memory at a time), the outputs are written
under temporary names and renamed when complete, and the audio track is not carried over.
What a frame gives is made by ``pipeline.outputs`` and named by its ``output_paths``.
"""
import logging
import os
from typing import Callable, List, Optional, Sequence

import numpy as np
from tqdm import tqdm

from ..datasets.composition import fit_background
from ..pipeline.outputs import OutputOptions, make_outputs, output_paths
from ..pipeline.prediction import Runner, predict_alpha
from ..video import OneFrameDelay, VideoReader, VideoWriter
from .options import PredictOptions

logger = logging.getLogger(__name__)

__all__ = ['predict_video']

VIDEO_OUTPUT_EXTENSION = '.mp4'


def _frame_options(outputs: OutputOptions, height: int, width: int) -> OutputOptions:
    """Per-frame outputs: no cut-out, the background fitted to the frame size once."""
    background = None if outputs.background is None else \
        fit_background(outputs.background, height, width, random_crop=False)
    return OutputOptions(cutout=False, background=background, fg_method=outputs.fg_method)


def _stream(runner: Runner, prepare: Callable, reader: VideoReader,
            writers: Sequence[VideoWriter], frame_options: OutputOptions,
            options: PredictOptions) -> None:
    """Predict every frame of ``reader`` and write its matte (and composite) to ``writers``."""
    ofd = OneFrameDelay() if options.temporal_ofd else None
    # with the delay, a frame's picture is needed when its alpha comes out one frame later
    pending: List[np.ndarray] = []
    bar = tqdm(total=reader.frame_count, desc=os.path.basename(reader.path), unit='frame',
               disable=not options.show_progress, dynamic_ncols=True, leave=False)

    def emit(frame: np.ndarray, alpha: np.ndarray) -> None:
        outputs = make_outputs(frame, alpha, frame_options)
        writers[0].write(outputs.alpha)
        if outputs.composite is not None:
            writers[1].write(outputs.composite)
        bar.update(1)

    for frame in reader:
        alpha = predict_alpha(runner, frame, None, prepare)
        if ofd is None:
            emit(frame, alpha)
            continue
        pending.append(frame)
        for done in ofd.push(alpha):
            emit(pending.pop(0), done)
    if ofd is not None:
        for done in ofd.flush():
            emit(pending.pop(0), done)
    bar.close()


def predict_video(runner: Runner, prepare: Callable, path: str, output_name: str, save_dir: str,
                  options: Optional[PredictOptions] = None) -> List[str]:
    """Write ``save_dir/<output_name>_alpha.mp4`` (and ``_composite.mp4`` with a background).

    Args:
        runner: a (shape-checked) runner; each frame goes through ``predict_alpha``.
        prepare: the composed val transforms.
        path: the video file (any container OpenCV's FFmpeg decodes).
        output_name: the outputs' name relative to save_dir, without suffix.
        options: ``outputs.background`` (uint8 [Hb, Wb, 3] RGB, fitted to the frame size
            once) and ``outputs.fg_method`` make the composite; ``temporal_ofd`` smooths
            one-frame flicker.
    Returns:
        The paths written. Raises ValueError for an undecodable file (nothing is written).
    """
    options = options or PredictOptions()
    targets = output_paths(save_dir, output_name, options.outputs, VIDEO_OUTPUT_EXTENSION).all()
    with VideoReader(path) as reader:
        frame_options = _frame_options(options.outputs, reader.height, reader.width)
        writers = [VideoWriter(target, reader.fps, reader.width, reader.height)
                   for target in targets]
        try:
            _stream(runner, prepare, reader, writers, frame_options, options)
        except BaseException:
            for writer in writers:
                writer.discard()
            raise
        for writer in writers:
            writer.close()
    logger.info('%s: %d frames at %.3g fps -> %s', path, writers[0].frames_written, reader.fps,
                ', '.join(targets))
    return targets

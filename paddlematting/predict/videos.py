"""Predict a video frame by frame: ``NAME_alpha.mp4`` (grey matte) and, given a background,
``NAME_composite.mp4`` (the cut-out, with estimated foreground colours, over it).

Both keep the input's frame rate, size and frame count. Frames are streamed (one decoded
frame, plus one more with ``temporal_ofd``, in memory at a time), the outputs are written
under temporary names and renamed when complete, and the audio track is not carried over.
"""
import logging
import os
from typing import Callable, List, Optional

import numpy as np
from tqdm import tqdm

from ..datasets.composition import composite_on_background, fit_background
from ..pipeline.prediction import Runner, predict_alpha
from ..video import OneFrameDelay, VideoReader, VideoWriter
from ..pipeline.outputs import DEFAULT_FG_METHOD, cutout_foreground
from ..pipeline.runner import alpha_to_uint8

logger = logging.getLogger(__name__)

__all__ = ['predict_video']


def predict_video(runner: Runner, prepare: Callable, path: str, output_name: str, save_dir: str,
                  background: Optional[np.ndarray] = None, fg_method: str = DEFAULT_FG_METHOD,
                  temporal_ofd: bool = False, show_progress: bool = True) -> List[str]:
    """Write ``save_dir/<output_name>_alpha.mp4`` (and ``_composite.mp4`` with a background).

    Args:
        runner: a (shape-checked) runner; each frame goes through ``predict_alpha``.
        prepare: the composed val transforms.
        path: the video file (any container OpenCV's FFmpeg decodes).
        background: uint8 [Hb, Wb, 3] RGB, fitted to the frame size once.
        fg_method: foreground colour estimation for the composite (``FG_METHODS``).
        temporal_ofd: smooth one-frame flicker (MODNet's one-frame delay, ``video.OneFrameDelay``).

    Returns:
        The paths written. Raises ValueError for an undecodable file (nothing is written).
    """
    targets = [os.path.join(save_dir, output_name + '_alpha.mp4')]
    if background is not None:
        targets.append(os.path.join(save_dir, output_name + '_composite.mp4'))
    with VideoReader(path) as reader:
        size = (reader.fps, reader.width, reader.height)
        fitted = None if background is None else fit_background(background, reader.height, reader.width,
                                                                random_crop=False)
        writers = [VideoWriter(target, *size) for target in targets]
        try:
            ofd = OneFrameDelay() if temporal_ofd else None
            # with the delay, a frame's picture is needed when its alpha comes out one frame later
            pending: List[np.ndarray] = []
            bar = tqdm(total=reader.frame_count, desc=os.path.basename(path), unit='frame',
                       disable=not show_progress, dynamic_ncols=True, leave=False)

            def emit(frame: np.ndarray, alpha: np.ndarray) -> None:
                alpha = alpha_to_uint8(alpha)
                writers[0].write(alpha)
                if fitted is not None:
                    writers[1].write(composite_on_background(cutout_foreground(frame, alpha, fg_method),
                                                             alpha, fitted))
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
        except BaseException:
            for writer in writers:
                writer.discard()
            raise
        for writer in writers:
            writer.close()
    logger.info('%s: %d frames at %.3g fps -> %s', path, writers[0].frames_written, reader.fps,
                ', '.join(targets))
    return targets

"""Streamed video reading and writing over ``cv2.VideoCapture`` / ``cv2.VideoWriter``.

Frames are RGB uint8 [H, W, 3] on both sides (OpenCV's BGR stays inside this module). Writers
write to a hidden temporary file beside the target and rename it on ``close()``, so a target
path never holds a half-written clip; ``discard()`` (or leaving a ``with`` block by an
exception) removes the temporary file instead.
"""
import math
import os
from typing import Iterator, Optional

import cv2
import numpy as np

__all__ = ['VIDEO_EXTENSIONS', 'VideoReader', 'VideoWriter', 'is_video', 'DEFAULT_FPS']

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm')
# when a container reports no usable frame rate
DEFAULT_FPS = 25.0
# MPEG-4 Part 2: the codec every OpenCV build with FFmpeg can write into .mp4
_MP4_FOURCC = 'mp4v'


def is_video(path: str) -> bool:
    """Whether ``path`` names a video by its extension (case-insensitive)."""
    return path.lower().endswith(VIDEO_EXTENSIONS)


class VideoReader:
    """Iterate a video's frames as RGB uint8 [H, W, 3].

    Attributes (from the container, read on opening): ``fps`` (``DEFAULT_FPS`` when it reports
    none), ``width``, ``height``, ``frame_count`` (the container's count; None when unknown;
    some containers only estimate it, so the frames yielded are what counts).

    Raises:
        ValueError: the file does not exist or cannot be decoded (checked by reading the first
            frame on opening), in one sentence naming the file.
    """

    def __init__(self, path: str):
        if not os.path.isfile(path):
            raise ValueError(f'{path}: no such video file.')
        self.path = path
        self._capture = cv2.VideoCapture(path)
        ok, frame = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok or frame is None:
            self._capture.release()
            raise ValueError(f'{path}: cannot decode this file as a video (unsupported codec or a '
                             f'damaged file).')
        self._first: Optional[np.ndarray] = frame
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and math.isfinite(fps) and fps > 0 else DEFAULT_FPS
        self.height, self.width = frame.shape[:2]
        count = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if count and math.isfinite(count) and count > 0 else None

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            if self._first is not None:
                frame, self._first = self._first, None
            else:
                ok, frame = self._capture.read()
                if not ok:
                    return
            yield _to_rgb(frame)

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> 'VideoReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class VideoWriter:
    """Write RGB uint8 [H, W, 3] (or grey [H, W]) frames to an .mp4 file (MPEG-4, no audio).

    Args:
        path: the target; written as ``.<name>.partial.mp4`` beside it until ``close()``.
        fps, width, height: of the clip; every frame must be height x width.

    Raises:
        OSError: OpenCV cannot open a writer for the file (e.g. an FFmpeg-less OpenCV build).
    """

    def __init__(self, path: str, fps: float, width: int, height: int):
        folder, name = os.path.split(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self.path = path
        self.size = (int(width), int(height))
        self._temporary = os.path.join(folder, f'.{name}.partial.mp4')
        self._writer = cv2.VideoWriter(self._temporary, cv2.VideoWriter_fourcc(*_MP4_FOURCC), float(fps),
                                       self.size)
        if not self._writer.isOpened():
            raise OSError(f'{path}: OpenCV cannot write {_MP4_FOURCC} video here (does this OpenCV '
                          f'build include FFmpeg?).')
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        """Append one frame: uint8 RGB [H, W, 3] or grey [H, W]."""
        if frame.shape[:2] != self.size[::-1]:
            raise ValueError(f'{self.path}: frame of size {frame.shape[1]}x{frame.shape[0]} in a '
                             f'{self.size[0]}x{self.size[1]} video.')
        code = cv2.COLOR_GRAY2BGR if frame.ndim == 2 else cv2.COLOR_RGB2BGR
        self._writer.write(cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), code))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and move it to ``path`` (replacing any older file there)."""
        self._writer.release()
        os.replace(self._temporary, self.path)

    def discard(self) -> None:
        """Stop writing and delete the temporary file; ``path`` is left untouched."""
        self._writer.release()
        if os.path.exists(self._temporary):
            os.remove(self._temporary)

    def __enter__(self) -> 'VideoWriter':
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

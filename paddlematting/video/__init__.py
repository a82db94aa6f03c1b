"""Video files in and out, frame by frame (OpenCV), and MODNet's one-frame-delay filter.

numpy/OpenCV only. Readers and writers hold one frame at a time, so memory does not grow with
a clip's length. Audio is neither read nor written: outputs are silent.
"""
from .io import VIDEO_EXTENSIONS, VideoReader, VideoWriter, is_video
from .temporal import OneFrameDelay

__all__ = ['VIDEO_EXTENSIONS', 'VideoReader', 'VideoWriter', 'is_video', 'OneFrameDelay']

"""The long-side cap every resize transform obeys, so no input can blow up memory.

A resize that keeps the aspect ratio can turn a tiny but extreme image into a huge one:
``ResizeByShort(512)`` makes a 4000x2 image 1,024,000x512 pixels (gigabytes once the network
runs). Each resize transform therefore takes ``max_long`` (default ``DEFAULT_MAX_LONG``,
4096 pixels) and refuses, naming the image size, any image whose resized long side would
exceed it. Sizes in messages are width x height.
"""
from typing import Any, Optional, Sequence

from .arg_checks import check_positive_int

__all__ = ['DEFAULT_MAX_LONG', 'ImageTooLargeError', 'check_max_long', 'check_resized_fits']

# 4096 keeps a MODNet/DIM forward pass on a 512-short-side image within a few GB
DEFAULT_MAX_LONG = 4096


class ImageTooLargeError(ValueError):
    """A resize would make the image's long side exceed its ``max_long``."""


def check_max_long(value: Optional[Any], name: str) -> int:
    """``value`` as a positive int (None: ``DEFAULT_MAX_LONG``); ``name`` is the config key."""
    return DEFAULT_MAX_LONG if value is None else check_positive_int(value, name)


def check_resized_fits(h: int, w: int, size_wh: Sequence[int], max_long: int, name: str) -> None:
    """Raise ImageTooLargeError when resizing an h x w image to ``size_wh`` exceeds ``max_long``.

    Args:
        h, w: the size before the resize.
        size_wh: (w, h) after it.
        max_long: the cap on the long side after the resize.
        name: the transform's ``max_long`` config key, e.g. 'ResizeByShort.max_long'.
    """
    new_w, new_h = int(size_wh[0]), int(size_wh[1])
    if max(new_w, new_h) > max_long:
        raise ImageTooLargeError(
            f'a {w}x{h} image (width x height) would be resized to {new_w}x{new_h}, beyond the '
            f'{max_long}-pixel limit on the long side ({name}); crop it to a less extreme '
            f'aspect ratio, or raise {name} if the memory allows')

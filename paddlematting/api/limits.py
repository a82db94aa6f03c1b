"""How big an image the one-call API takes: a bound on encoded bytes and on pixels.

``Matting(settings=MattingSettings(limits=ImageLimits(max_pixels=...)))`` refuses larger
images with ``ImageTooLargeError`` (a ValueError naming the limit), and ``paddlematting
serve`` answers 413 with the same message (``--max-pixels``, ``--max-bytes``). Encoded bytes
are checked against the pixel limit from their header before they are decoded, so a small
file that decodes to gigabytes (a "decompression bomb") never reaches the decoder. None: no
limit (the API's default; OpenCV's own 2**30-pixel cap still applies).
"""
import io
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple

__all__ = ['ImageLimits', 'ImageTooLargeError', 'check_bytes', 'check_pixels', 'check_header']


class ImageTooLargeError(ValueError):
    """An image over an ``ImageLimits`` bound; ``limit`` names it ('max_pixels' or 'max_bytes')."""

    def __init__(self, message: str, limit: str, value: int):
        super().__init__(message)
        self.limit = limit
        self.value = value


@dataclass(frozen=True)
class ImageLimits:
    """``max_pixels``: width x height of a photo; ``max_bytes``: its encoded size. None: no limit."""
    max_pixels: Optional[int] = None
    max_bytes: Optional[int] = None

    def __post_init__(self) -> None:
        for name in ('max_pixels', 'max_bytes'):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f'ImageLimits.{name} must be a positive integer or None, got {value!r}.')


def check_bytes(size: int, limits: ImageLimits, source: str = 'image bytes') -> None:
    """Raise ImageTooLargeError when ``size`` encoded bytes exceed ``limits.max_bytes``."""
    if limits.max_bytes is not None and size > limits.max_bytes:
        raise ImageTooLargeError(f'{source}: {size:,} bytes is over the limit of '
                                 f'{limits.max_bytes:,} bytes (max_bytes)', 'max_bytes', limits.max_bytes)


def check_pixels(width: int, height: int, limits: ImageLimits, source: str = 'image') -> None:
    """Raise ImageTooLargeError when a ``width`` x ``height`` image exceeds ``limits.max_pixels``."""
    if limits.max_pixels is not None and width * height > limits.max_pixels:
        raise ImageTooLargeError(
            f'{source}: {width}x{height} = {width * height:,} pixels is over the limit of '
            f'{limits.max_pixels:,} pixels (max_pixels); send a smaller image',
            'max_pixels', limits.max_pixels)


def check_header(data: bytes, limits: ImageLimits, source: str = 'image bytes') -> None:
    """Check encoded bytes against ``limits`` (bytes, then the header's width x height) before
    they are decoded. Without Pillow, or for a header it cannot read, only the bytes are
    checked here (``read_input`` checks the decoded pixels too)."""
    check_bytes(len(data), limits, source)
    if limits.max_pixels is None:
        return
    try:
        from PIL import Image
    except ImportError:
        return
    with warnings.catch_warnings():
        # Pillow warns (or refuses) over 89 Mpixels; our own limit is the one that speaks
        warnings.simplefilter('ignore', Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as opened:
                size = opened.size
        except Image.DecompressionBombError:
            bound = 2 * Image.MAX_IMAGE_PIXELS  # Pillow refuses only what is over twice its bound
            if limits.max_pixels < bound:
                raise ImageTooLargeError(f'{source}: over {bound:,} pixels, beyond the limit of '
                                         f'{limits.max_pixels:,} pixels (max_pixels); send a smaller '
                                         f'image', 'max_pixels', limits.max_pixels) from None
            return
        except Exception:  # noqa: BLE001 - any header Pillow cannot parse: the decoder decides
            return
    check_pixels(size[0], size[1], limits, source)

"""The input pixel cap: a photo over ``max_pixels`` is refused before it is decoded.

Memory follows the photo's size (through predict with the default cut-outs, 17 to 34 bytes per
pixel above the process's fixed cost: 1.5 GB peak RSS at 48 megapixels,
``benchmarks/bench_memory.py``), so a cap well below OpenCV's own 1-gigapixel limit
keeps one crafted or mistaken file from taking the machine. The default, 100 megapixels,
passes every camera photo (a 48-megapixel 8000x6000 one included).

PNG, JPEG, BMP, GIF and WebP sizes are read from the file's header, so such a file is refused
without decoding a pixel; other formats are checked once decoded (OpenCV's limit bounds them
until then).

>>> import struct
>>> png = b'\\x89PNG\\r\\n\\x1a\\n' + struct.pack('>I4sII', 13, b'IHDR', 12000, 9000)
>>> header_size(png)
(12000, 9000)
>>> check_pixels(12000, 9000, 'big.png', max_pixels=100_000_000)
Traceback (most recent call last):
...
paddlematting.utils.pixel_limit.TooManyPixelsError: big.png: the image is 12000x9000 (108.0 megapixels), over the limit of 100 megapixels; raise the limit with --max_pixels N (Python: max_pixels=N; or PADDLEMATTING_MAX_PIXELS) if the machine has about 35 bytes of memory per pixel
"""
import os
import struct
from typing import Optional, Tuple, Union

import numpy as np

__all__ = ['DEFAULT_MAX_PIXELS', 'MAX_PIXELS_ENV', 'TooManyPixelsError', 'default_max_pixels',
           'header_size', 'check_pixels']

DEFAULT_MAX_PIXELS = 100_000_000
MAX_PIXELS_ENV = 'PADDLEMATTING_MAX_PIXELS'
# a header we read is at most this far into the file (JPEG: EXIF and ICC segments come first)
_HEADER_SCAN_BYTES = 4 * 1024 * 1024

Data = Union[bytes, bytearray, memoryview, np.ndarray]


class TooManyPixelsError(ValueError):
    """An image over the pixel cap (the message names the file, its size and the cap);
    ``width``, ``height`` and ``cap`` hold the figures for callers that word it their own way."""

    def __init__(self, message: str, width: int, height: int, cap: int):
        super().__init__(message)
        self.width, self.height, self.cap = width, height, cap


def default_max_pixels() -> int:
    """``$PADDLEMATTING_MAX_PIXELS`` when set (a positive integer), else ``DEFAULT_MAX_PIXELS``."""
    raw = os.environ.get(MAX_PIXELS_ENV, '').strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.replace('_', ''))
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f'{MAX_PIXELS_ENV}={raw!r}: expected a positive whole number of pixels '
                         f'(e.g. 200000000).')
    return value


def check_pixels(width: int, height: int, source: str, max_pixels: Optional[int] = None) -> None:
    """Raise ``TooManyPixelsError`` when ``width * height`` exceeds ``max_pixels``
    (None: ``default_max_pixels()``)."""
    cap = default_max_pixels() if max_pixels is None else max_pixels
    if width * height > cap:
        raise TooManyPixelsError(
            f'{source}: the image is {width}x{height} ({width * height / 1e6:.1f} megapixels), '
            f'over the limit of {cap / 1e6:g} megapixels; raise the limit with --max_pixels N '
            f'(Python: max_pixels=N; or {MAX_PIXELS_ENV}) if the machine has about 35 bytes of '
            f'memory per pixel', width, height, cap)


def header_size(data: Data) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG, JPEG, BMP, GIF or WebP header; None for other formats or a
    header that does not parse (the decoder then decides)."""
    head = bytes(memoryview(data)[:_HEADER_SCAN_BYTES])
    for reader in (_png_size, _jpeg_size, _bmp_size, _gif_size, _webp_size):
        size = reader(head)
        if size is not None:
            return size
    return None


def _png_size(head: bytes) -> Optional[Tuple[int, int]]:
    if head[:8] != b'\x89PNG\r\n\x1a\n' or len(head) < 24 or head[12:16] != b'IHDR':
        return None
    return struct.unpack('>II', head[16:24])


# start-of-frame markers: every SOFn except DHT (C4), JPG (C8) and DAC (CC)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(head: bytes) -> Optional[Tuple[int, int]]:
    if head[:2] != b'\xff\xd8':
        return None
    pos = 2
    while pos + 9 <= len(head):  # walks the segments before the frame header (a few dozen)
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_SOF:
            height, width = struct.unpack('>HH', head[pos + 5:pos + 9])
            return width, height
        if marker == 0xDA:  # scan data before any frame header: not a JPEG we can size
            return None
        pos += 2 + struct.unpack('>H', head[pos + 2:pos + 4])[0]
    return None


def _bmp_size(head: bytes) -> Optional[Tuple[int, int]]:
    if head[:2] != b'BM' or len(head) < 26:
        return None
    width, height = struct.unpack('<ii', head[18:26])
    return abs(width), abs(height)  # a negative height means top-down rows


def _gif_size(head: bytes) -> Optional[Tuple[int, int]]:
    if head[:6] not in (b'GIF87a', b'GIF89a') or len(head) < 10:
        return None
    return struct.unpack('<HH', head[6:10])


def _webp_size(head: bytes) -> Optional[Tuple[int, int]]:
    if head[:4] != b'RIFF' or head[8:12] != b'WEBP' or len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b'VP8X':  # 24-bit width-1 and height-1
        return (int.from_bytes(head[24:27], 'little') + 1, int.from_bytes(head[27:30], 'little') + 1)
    if chunk == b'VP8 ':  # 14-bit sizes after the key-frame start code
        width, height = struct.unpack('<HH', head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b'VP8L':  # 14 bits each, minus one, after the signature byte
        bits = int.from_bytes(head[21:25], 'little')
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None

"""Telling a complete JPEG or PNG file from a truncated one before trusting its pixels.

OpenCV decodes a truncated JPEG without an error (libjpeg fills the missing rows with gray
and only prints a warning), so a half-downloaded photo would give a garbage matte that
counts as a success. A complete JPEG ends its last scan with the EOI marker (FF D9); a
complete PNG ends with its IEND chunk. Other formats are left to the decoder.
"""
import numpy as np

__all__ = ['TruncatedImageError', 'check_image_complete']

_JPEG_START = b'\xff\xd8'
_JPEG_SCAN = b'\xff\xda'  # start of scan; inside scan data FF is always followed by 00 or D0-D7
_JPEG_END = b'\xff\xd9'
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_PNG_END = b'IEND\xaeB`\x82'  # chunk type and its fixed CRC


class TruncatedImageError(ValueError):
    """An image file whose data stops before its format's end marker."""


def check_image_complete(data: np.ndarray, path: str) -> None:
    """Raise TruncatedImageError when ``data`` (the file's bytes) is a cut-off JPEG or PNG.

    Args:
        data: uint8 [N], the whole file.
        path: named in the message.
    """
    raw = memoryview(np.ascontiguousarray(data, dtype=np.uint8)).tobytes()
    if raw.startswith(_JPEG_START):
        last_scan = raw.rfind(_JPEG_SCAN)
        # an EXIF thumbnail has its own EOI, before the main image's scans: look after them
        if last_scan < 0 or raw.rfind(_JPEG_END) < last_scan:
            raise TruncatedImageError(f'{path}: the JPEG file is truncated (its data stops '
                                      f'before the end-of-image marker); it was only partly '
                                      f'written or downloaded.')
    elif raw.startswith(_PNG_SIGNATURE):
        if raw.rfind(_PNG_END) < 0:
            raise TruncatedImageError(f'{path}: the PNG file is truncated (it has no IEND '
                                      f'chunk); it was only partly written or downloaded.')

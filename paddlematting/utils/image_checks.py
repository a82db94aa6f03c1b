"""Telling a complete, intact JPEG or PNG file from a damaged one before trusting its pixels.

OpenCV decodes a damaged JPEG without an error (libjpeg fills the missing rows with gray
and only prints a warning to stderr), so a half-downloaded photo would give a garbage matte
that counts as a success. Two checks catch it:

- ``check_image_complete``: a complete JPEG ends its last scan with the EOI marker (FF D9); a
  complete PNG ends with its IEND chunk (cheap, before decoding).
- ``decode_image``: decodes with OpenCV while file descriptor 2 is captured, and turns
  libjpeg's corruption warnings ("Corrupt JPEG data: ...", "Premature end of JPEG file") into
  an error naming the file. This catches a JPEG cut off and then given an EOI marker, which
  the first check cannot see. libjpeg prints those warnings to stderr and nowhere else (OpenCV
  offers no strict mode), so capturing them is the one reliable signal; it costs two
  ``dup2`` calls per JPEG, and other output written to fd 2 meanwhile is passed on.

Other formats are left to the decoder.
"""
import os
import re
import sys
import tempfile
import threading
from typing import List, Optional, Tuple

import cv2
import numpy as np

__all__ = ['TruncatedImageError', 'CorruptImageError', 'check_image_complete', 'decode_image']

_JPEG_START = b'\xff\xd8'
_JPEG_SCAN = b'\xff\xda'  # start of scan; inside scan data FF is always followed by 00 or D0-D7
_JPEG_END = b'\xff\xd9'
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_PNG_END = b'IEND\xaeB`\x82'  # chunk type and its fixed CRC


class TruncatedImageError(ValueError):
    """An image file whose data stops before its format's end marker."""


class CorruptImageError(ValueError):
    """An image file whose decoder reported corrupt data."""


# libjpeg's warnings about damaged data (its other messages are not about the pixels)
_JPEG_CORRUPTION = re.compile(r'^(Corrupt JPEG data|Premature end of JPEG file)')
# one capture at a time: fd 2 is shared by every thread of the process
_CAPTURE_LOCK = threading.Lock()


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


def _decode_capturing_stderr(data: np.ndarray, flags: int) -> Tuple[Optional[np.ndarray], List[str]]:
    """``cv2.imdecode(data, flags)`` and the lines written to fd 2 while it ran."""
    with _CAPTURE_LOCK, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all (a daemon): nothing can be printed, nor captured
            return cv2.imdecode(data, flags), []
        os.dup2(captured.fileno(), 2)
        try:
            image = cv2.imdecode(data, flags)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        text = captured.read().decode('utf-8', 'replace')
    return image, text.splitlines()


def decode_image(data: np.ndarray, path: str, flags: int = cv2.IMREAD_UNCHANGED) -> Optional[np.ndarray]:
    """``cv2.imdecode`` of a file's bytes, refusing a JPEG that libjpeg calls corrupt.

    Args:
        data: uint8 [N], the whole file (already through :func:`check_image_complete`).
        path: named in the message.
    Returns:
        What ``cv2.imdecode`` returns (None when it cannot decode the data at all).
    Raises:
        CorruptImageError: libjpeg warned about corrupt or missing data.
    """
    if not (data.size >= 2 and data[0] == 0xFF and data[1] == 0xD8):
        return cv2.imdecode(data, flags)
    image, lines = _decode_capturing_stderr(data, flags)
    corrupt = [line for line in lines if _JPEG_CORRUPTION.match(line)]
    others = [line for line in lines if not _JPEG_CORRUPTION.match(line)]
    if others:  # someone else's output (another thread, other libjpeg notes): pass it on
        os.write(2, ('\n'.join(others) + '\n').encode('utf-8'))
    if corrupt:
        raise CorruptImageError(f'{path}: the JPEG data is damaged (libjpeg: "{corrupt[0]}"); '
                                f'the file was cut off or altered, and its pixels would be '
                                f'partly gray.')
    return image

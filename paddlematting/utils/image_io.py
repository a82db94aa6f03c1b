"""Reading and writing images in the toolkit's canonical forms.

Every image entering the toolkit becomes either an RGB colour image (uint8 [H, W, 3]) or a
single-channel map (uint8 [H, W], for alphas and trimaps). The ``as_*`` converters apply the
same rules to arrays already in memory, so files and arrays are treated alike:

- 16-bit data is scaled to 8 bits (x / 257, rounded), so 65535 maps to 255.
- A grayscale colour image is repeated over three channels; an RGBA image drops its alpha.
- A 3-channel map keeps its first channel (matting sets often store R = G = B alphas);
  a 4-channel map uses its alpha channel unless that channel is fully opaque.

Files are decoded with ``np.fromfile`` + ``cv2.imdecode`` so that non-ASCII paths work.
"""
import os
from typing import Optional

import cv2
import numpy as np

from .image_checks import check_image_complete, decode_image
from .output_files import write_bytes_atomically
from .pixel_limit import check_pixels, header_size
from .trimap_codes import trimap_lookup

__all__ = ['read_image', 'decode_checked', 'read_alpha', 'read_trimap', 'write_png', 'as_rgb_uint8', 'as_gray_uint8',
           'as_trimap_uint8']


def _to_uint8(array: np.ndarray, source: str) -> np.ndarray:
    """Scale uint8/uint16 data to uint8; reject other dtypes."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        # 257 = 65535 / 255, so the full 16-bit range maps exactly onto 0..255
        return np.rint(array.astype(np.float32) / 257.0).astype(np.uint8)
    raise ValueError(f'{source}: expected 8-bit or 16-bit image data, got dtype {array.dtype}.')


def as_rgb_uint8(array: np.ndarray, source: str = 'image', assume_bgr: bool = False) -> np.ndarray:
    """Convert an image array to RGB uint8 [H, W, 3].

    Args:
        array: uint8 or uint16, [H, W], [H, W, 1], [H, W, 3] or [H, W, 4].
        source: what to name in error messages (a path or a dict key).
        assume_bgr: the channels are in OpenCV's BGR(A) order (true for decoded files).
    Returns:
        uint8 [H, W, 3] in RGB order, values 0..255.
    """
    array = _to_uint8(np.asarray(array), source)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        return np.ascontiguousarray(np.repeat(array[:, :, None], 3, axis=2))
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f'{source}: expected an image of shape [H, W], [H, W, 3] or [H, W, 4], '
                         f'got {array.shape}.')
    if assume_bgr:  # OpenCV's swap: ~8x faster than a numpy copy of reversed channels
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB if array.shape[2] == 3 else cv2.COLOR_BGRA2RGB)
    return np.ascontiguousarray(array[:, :, :3])


def as_gray_uint8(array: np.ndarray, source: str = 'map') -> np.ndarray:
    """Convert an alpha or trimap array to a single-channel uint8 [H, W] map.

    Args:
        array: uint8 or uint16, [H, W], [H, W, 1], [H, W, 3] or [H, W, 4] (channel order does
            not matter for 3 channels: the first one is kept, as matting sets store R = G = B).
        source: what to name in error messages.
    Returns:
        uint8 [H, W], values 0..255.
    """
    array = _to_uint8(np.asarray(array), source)
    if array.ndim == 3 and array.shape[2] in (1, 3):
        array = array[:, :, 0]
    elif array.ndim == 3 and array.shape[2] == 4:
        # an RGBA cutout carries its matte in the alpha channel; an opaque one in its colours
        array = array[:, :, 0] if np.all(array[:, :, 3] == 255) else array[:, :, 3]
    if array.ndim != 2:
        raise ValueError(f'{source}: expected a single-channel map [H, W] (or 3/4 channels to '
                         f'convert), got shape {array.shape}.')
    return np.ascontiguousarray(array)


def as_trimap_uint8(array: np.ndarray, source: str = 'trimap') -> np.ndarray:
    """Convert a trimap array to uint8 [H, W] with values exactly {0, 128, 255}.

    Gray levels are snapped by thirds (< 85 background, > 170 foreground, else unknown), so
    trimaps coded with 127 for unknown or saved lossily still read correctly; label trimaps
    (values within {0, 1, 2}) read as background / unknown / foreground, and other all-dark
    maps are refused (see ``trimap_codes``).
    """
    array = np.asarray(array)
    if array.dtype == np.uint16 and array.size and array.max() <= 2:
        array = array.astype(np.uint8)  # 16-bit labels: scaling by 1/257 would erase them
    gray = as_gray_uint8(array, source)
    return trimap_lookup(gray, source)[gray]


def decode_checked(data: np.ndarray, source: str, max_pixels: Optional[int] = None
                   ) -> Optional[np.ndarray]:
    """A whole file's bytes (uint8 [N]) -> what ``cv2.imdecode`` gives (None: not an image),
    refusing a cut-off or damaged file and one over the pixel cap (``utils.pixel_limit``;
    None: the default cap), each with one line naming ``source``. The cap is checked on the
    header, before decoding, for the formats whose header gives the size."""
    size = header_size(data)  # first: the cheapest check, and the one that bounds memory
    if size is not None:
        check_pixels(*size, source, max_pixels)
    check_image_complete(data, source)  # OpenCV decodes a cut-off JPEG without complaint
    # a damaged JPEG decodes with a warning on stderr, which decode_image makes an error
    image: Optional[np.ndarray] = decode_image(data, source) if data.size else None
    if image is not None and size is None:  # a format whose header we do not read
        check_pixels(image.shape[1], image.shape[0], source, max_pixels)
    return image


def _decode(path: str, max_pixels: Optional[int]) -> np.ndarray:
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: image file does not exist.')
    image = decode_checked(np.fromfile(path, dtype=np.uint8), path, max_pixels)
    if image is None:
        raise ValueError(f'{path}: cannot decode this file as an image.')
    return image


def read_image(path: str, max_pixels: Optional[int] = None) -> np.ndarray:
    """Read a colour image as RGB uint8 [H, W, 3] (grayscale, RGBA and 16-bit converted).
    Over ``max_pixels`` (None: ``utils.pixel_limit``'s default cap) it is refused undecoded."""
    return as_rgb_uint8(_decode(path, max_pixels), source=path, assume_bgr=True)


def read_alpha(path: str, max_pixels: Optional[int] = None) -> np.ndarray:
    """Read an alpha matte or trimap as uint8 [H, W] (3/4-channel and 16-bit converted)."""
    return as_gray_uint8(_decode(path, max_pixels), source=path)


def read_trimap(path: str, max_pixels: Optional[int] = None) -> np.ndarray:
    """Read a trimap as uint8 [H, W] with values {0, 128, 255} (see ``as_trimap_uint8``)."""
    return as_trimap_uint8(_decode(path, max_pixels), source=path)


def write_png(path: str, array: np.ndarray) -> None:
    """Write uint8/uint16 [H, W], RGB [H, W, 3] or RGBA [H, W, 4] to a PNG, creating folders.

    Colour arrays are taken in RGB(A) order (as ``read_image`` returns them). The file
    appears complete or not at all; a full disk raises ``DiskFullError`` naming ``path``.
    """
    array = np.asarray(array)
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f'{path}: write_png expects uint8 or uint16 data, got dtype '
                         f'{array.dtype}; '
                         f'scale and cast first (e.g. np.uint8(np.clip(alpha * 255, 0, 255))).')
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA)
    elif array.ndim != 2:
        raise ValueError(f'{path}: write_png expects shape [H, W], [H, W, 3] or [H, W, 4], '
                         f'got {array.shape}.')
    ok, encoded = cv2.imencode('.png', array)
    if not ok:
        raise ValueError(f'{path}: OpenCV could not encode an array of shape {array.shape} as PNG.')
    # a temporary name, then a rename: a crash or a full disk never leaves a partial PNG
    write_bytes_atomically(path, encoded.tobytes())

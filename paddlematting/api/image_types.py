"""What the one-call API accepts and gives back: the output's type follows the input's.

| input | read as | output |
|-|-|-|
| numpy uint8/uint16 [H,W,3] RGB ([H,W] gray, [H,W,4] RGBA: alpha dropped) | RGB | numpy uint8 |
| PIL image (any mode) | converted to RGB | PIL image |
| bytes / bytearray (an encoded PNG, JPEG, ...) | decoded | PNG bytes |
| a path (str or os.PathLike) | read from disk | numpy uint8 (rembg takes no paths; an array is what a caller can use at once) |

Outputs: RGBA [H,W,4] (the cut-out), [H,W] (``only_mask``) or RGB [H,W,3] (composited on
``bgcolor`` / ``background``), always at the input's size. PIL is imported only when a PIL
image comes in.
"""
import os
from typing import Any, Optional, Tuple

import cv2
import numpy as np

from ..utils.image_io import (as_gray_uint8, as_rgb_uint8, as_trimap_uint8, decode_checked, read_alpha,
                              read_image)
from ..utils.pixel_limit import check_pixels

__all__ = ['read_input', 'write_output', 'read_map', 'encode_png', 'is_pil_image']

PATH, ARRAY, PIL_IMAGE, BYTES = 'path', 'array', 'pil', 'bytes'


def is_pil_image(value: Any) -> bool:
    """A PIL.Image.Image, recognised without importing PIL."""
    return any(c.__module__.startswith('PIL.') and c.__name__ == 'Image' for c in type(value).__mro__)


def decode_image_bytes(data: bytes, source: str = 'image bytes',
                       max_pixels: Optional[int] = None) -> np.ndarray:
    """Encoded image bytes -> RGB uint8 [H,W,3]; ValueError (one line) when not an image, cut
    off, or over ``max_pixels`` (None: the default cap; checked before decoding)."""
    buffer = np.frombuffer(bytes(data), dtype=np.uint8)
    decoded = decode_checked(buffer, source, max_pixels)
    if decoded is None:
        raise ValueError(f'{source}: cannot decode these {len(buffer)} bytes as an image.')
    return as_rgb_uint8(decoded, source=source, assume_bgr=True)


def read_input(image: Any, max_pixels: Optional[int] = None) -> Tuple[np.ndarray, str]:
    """``image`` (see the module docstring) -> (RGB uint8 [H,W,3], its kind); an image over
    ``max_pixels`` (None: the default cap) is refused, files and bytes before decoding."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(os.fspath(image), max_pixels), PATH
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image_bytes(image, max_pixels=max_pixels), BYTES
    if is_pil_image(image):
        check_pixels(*image.size, 'PIL image', max_pixels)
        return as_rgb_uint8(np.asarray(image.convert('RGB')), source='PIL image'), PIL_IMAGE
    if isinstance(image, np.ndarray):
        if image.ndim >= 2:
            check_pixels(image.shape[1], image.shape[0], 'image array', max_pixels)
        return as_rgb_uint8(image, source='image array'), ARRAY
    raise TypeError(f'image must be a numpy array, a PIL image, bytes or a path, got '
                    f'{type(image).__name__}.')


def encode_png(array: np.ndarray) -> bytes:
    """uint8 [H,W], RGB [H,W,3] or RGBA [H,W,4] -> PNG bytes."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode('.png', array)
    if not ok:
        raise ValueError(f'OpenCV could not encode an array of shape {array.shape} as PNG.')
    return encoded.tobytes()


def write_output(array: np.ndarray, kind: str) -> Any:
    """The result ``array`` (uint8) in the form that matches the input ``kind``."""
    if kind == BYTES:
        return encode_png(array)
    if kind == PIL_IMAGE:
        from PIL import Image
        return Image.fromarray(array)
    return array


def read_map(value: Any, what: str, shape: Tuple[int, int]) -> np.ndarray:
    """A mask or trimap given as an array, PIL image or path, checked to be ``shape`` (H, W).

    Returns the array as given for numpy floats (a soft mask in [0, 1]) and uint8 [H,W]
    otherwise; trimaps are snapped to {0, 128, 255} (0/1/2 label trimaps read as such).
    """
    if isinstance(value, (str, os.PathLike)):
        array = read_alpha(os.fspath(value))
    elif is_pil_image(value):
        array = np.asarray(value)
    else:
        array = np.asarray(value)
    if array.ndim == 3 and array.shape[2] in (1, 3, 4) and not np.issubdtype(array.dtype, np.floating):
        array = as_gray_uint8(array, source=what)
    if array.shape[:2] != tuple(shape) or array.ndim not in (2, 3):
        found = f'{array.shape[1]}x{array.shape[0]}' if array.ndim >= 2 else f'shape {array.shape}'
        raise ValueError(f'{what} is {found} but the image is {shape[1]}x{shape[0]}; give an '
                         f'[H, W] map of the image\'s size.')
    if what == 'trimap':
        if np.issubdtype(array.dtype, np.floating):  # {0, 0.5, 1} floats
            array = np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
        return as_trimap_uint8(array, source=what)
    return array

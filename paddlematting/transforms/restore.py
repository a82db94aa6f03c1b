"""restore_alpha: undo the resize and padding steps recorded in a sample's trans_info."""
from typing import Sequence, Tuple

import cv2
import numpy as np
import numpy.typing as npt


def _resize_planes(alpha: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of [..., H, W] to [..., h, w], all leading planes at once."""
    lead = alpha.shape[:-2]
    if int(np.prod(lead)) == 1:
        # the common case (one matte): resize the plane itself, no full-size copies
        plane = np.ascontiguousarray(alpha.reshape(alpha.shape[-2:]))
        return cv2.resize(plane, (w, h), interpolation=cv2.INTER_LINEAR).reshape(lead + (h, w))
    # one plane at a time: bilinear resizing treats channels independently anyway, and
    # cv2.resize would refuse more than 512 channels at once
    planes = alpha.reshape((-1,) + alpha.shape[-2:])
    resized = [cv2.resize(np.ascontiguousarray(plane), (w, h), interpolation=cv2.INTER_LINEAR)
               for plane in planes]
    return np.stack(resized).reshape(lead + (h, w))


def restore_alpha(alpha: npt.ArrayLike,
                  trans_info: Sequence[Tuple[str, Tuple[int, int]]]) -> np.ndarray:
    """Bring a predicted alpha back to the original image size.

    Steps are undone in reverse: ``('resize', (h, w))`` resizes bilinearly back to (h, w);
    ``('padding', (h, w))`` crops the top-left (h, w) window (the exact inverse of Padding).

    Args:
        alpha: array-like (numpy, or anything ``np.asarray`` accepts, e.g. a paddle Tensor)
            of shape [H, W] or [N, C, H, W] (or any [..., H, W]); any value range.
        trans_info: one sample's list of (op, (h, w)) as built by the transforms; lists in
            place of tuples (as a DataLoader returns them) work too.
    Returns:
        the same leading shape with the last two dims equal to the first recorded size;
        dtype float32, or uint8 for uint8 input.
    """
    alpha = np.asarray(alpha)
    if alpha.ndim < 2:
        raise ValueError(f'restore_alpha expects an array [..., H, W], got shape {alpha.shape}.')
    if alpha.dtype != np.uint8:
        alpha = alpha.astype(np.float32)
    for step in reversed(list(trans_info)):
        try:
            op, (h, w) = step
            h, w = int(h), int(w)
        except (TypeError, ValueError):
            raise ValueError(f"restore_alpha: trans_info entry {step!r} is not (op, (h, w)).")
        if op == 'resize':
            if alpha.shape[-2:] != (h, w):
                alpha = _resize_planes(alpha, h, w)
        elif op == 'padding':
            if alpha.shape[-2] < h or alpha.shape[-1] < w:
                raise ValueError(f'restore_alpha: cannot undo padding to ({h}, {w}) on an alpha '
                                 f'of size {alpha.shape[-2:]}.')
            alpha = alpha[..., :h, :w]
        else:
            raise ValueError(f"restore_alpha: unknown trans_info op {op!r}; expected 'resize' "
                             f"or 'padding'.")
    return np.ascontiguousarray(alpha)

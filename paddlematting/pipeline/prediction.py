"""One image's prediction: raw image -> model inputs -> run -> alpha at the original size.

The evaluator (paddlematting.engine), the predictor (paddlematting.predict) and the Paddle
Inference Predictor (paddlematting.inference) call these functions, so preprocessing and
restoration are defined once, below all three. A *runner* is any callable
``runner(img [N,3,H,W] float32, trimap [N,1,H,W] float32 0..255 | None) -> [N,1,H,W]``.
"""
from typing import Callable, List, Optional

import numpy as np

from ..transforms.compose import Compose
from ..transforms.restore import restore_alpha
from ..utils.row_bands import row_bands
from ..utils.trimap_values import force_known_regions
from .outputs import alpha_to_uint8

Runner = Callable[[np.ndarray, Optional[np.ndarray]], np.ndarray]


def prepare_sample(image: np.ndarray, trimap: Optional[np.ndarray], transforms: Compose) -> dict:
    """Run the inference transforms on one raw image.

    Args:
        image: uint8 [H,W,3] RGB.
        trimap: optional uint8 [H,W] with values 0 (background), 128 (unknown), 255 (foreground).
        transforms: the validation Compose (``builders.build_transforms``).
    Returns:
        dict with ``img`` float32 [1,3,h,w] (normalised), ``trimap`` float32 [1,1,h,w] in 0..255
        or None, and ``trans_info`` (the resize/padding steps to undo, in order).
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be an [H,W,3] RGB array, got shape {image.shape}.')
    sample = {'img': image, 'trans_info': [], 'gt_fields': []}
    if trimap is not None:
        if trimap.shape[:2] != image.shape[:2]:
            raise ValueError(f'trimap shape {trimap.shape[:2]} differs from image shape {image.shape[:2]}.')
        sample['trimap'] = trimap
        sample['gt_fields'].append('trimap')
    sample = transforms(sample)
    img = np.ascontiguousarray(sample['img'], dtype=np.float32)[np.newaxis]
    prepared_trimap = None
    if trimap is not None:
        prepared_trimap = np.asarray(sample['trimap'], dtype=np.float32)
        prepared_trimap = prepared_trimap.reshape((1, 1) + prepared_trimap.shape[-2:])
    return {'img': img, 'trimap': prepared_trimap, 'trans_info': sample['trans_info']}


def finish_alpha(alpha: np.ndarray, trans_info: List, trimap: Optional[np.ndarray] = None) -> np.ndarray:
    """Turn one model output back into an alpha matte at the input image's size.

    Args:
        alpha: float [1,1,h,w] or [h,w], the model output at the prepared size.
        trans_info: ``prepare_sample``'s ``trans_info``.
        trimap: optional ORIGINAL-size trimap [H,W] (0/128/255); where it is certain it
            overrides the prediction after restoration, as PaddleSeg Matting's predictor does.
    Returns:
        float32 [H,W] in [0,1].
    """
    alpha = np.asarray(alpha, dtype=np.float32).reshape(alpha.shape[-2:])
    # clip at the prepared size: bilinear restoration keeps values inside [0, 1] and
    # no full-resolution temporary is made
    alpha = restore_alpha(np.clip(alpha, 0.0, 1.0), trans_info).astype(np.float32, copy=False)
    return force_known_regions(alpha, trimap, opaque=1.0)


def finish_alpha_uint8(alpha: np.ndarray, trans_info: List,
                       trimap: Optional[np.ndarray] = None) -> np.ndarray:
    """``alpha_to_uint8(finish_alpha(alpha, trans_info, trimap))``, with less memory.

    The one resize to the original size is OpenCV's, on the whole matte (4 bytes per pixel,
    freed on return; done in bands it could not give OpenCV's values exactly). Forcing the
    trimap's known regions and rounding to 8 bits then run in bands of rows, so no other
    full-size float array is made.

    Returns:
        uint8 [H, W] in [0, 255], H x W the input image's size.
    """
    alpha = np.asarray(alpha, dtype=np.float32).reshape(alpha.shape[-2:])
    restored = restore_alpha(np.clip(alpha, 0.0, 1.0), trans_info).astype(np.float32, copy=False)
    if trimap is not None:
        trimap = np.asarray(trimap).reshape(restored.shape)
    out = np.empty(restored.shape, np.uint8)
    for y0, y1 in row_bands(*restored.shape):
        band = restored[y0:y1]
        if trimap is not None:
            band = force_known_regions(band, trimap[y0:y1], opaque=1.0)
        out[y0:y1] = alpha_to_uint8(band)
    return out


def predict_alpha(runner: Runner, image: np.ndarray, trimap: Optional[np.ndarray],
                  transforms: Compose) -> np.ndarray:
    """Whole pipeline for one image: prepare, run, restore. Returns float32 [H,W] in [0,1].

    ``image`` uint8 [H,W,3] RGB; ``trimap`` uint8 [H,W] {0,128,255} or None.
    """
    sample = prepare_sample(image, trimap, transforms)
    alpha = runner(sample['img'], sample['trimap'])
    return finish_alpha(alpha, sample['trans_info'], trimap)

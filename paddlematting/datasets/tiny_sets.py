"""Tiny datasets made from a small set of real mattes (such as data/alphamatting_lowres).

Used by the quick-start demo, the end-to-end tests and the training benchmark, so that
each runs in seconds on a CPU. ``src_root`` is a dataset in the PPM-100 layout with a
``val.txt``, ``val/{fg,alpha,trimap}`` and a ``bg/`` folder of backgrounds.
The training blends are only approximately right at soft edges when the source photos
already contain a background: fine for demos and tests, never for reporting quality.
"""
import os
from typing import List, Optional

import cv2
import numpy as np

from ..transforms.sample_fields import scaled_size
from ..utils.image_io import read_alpha, read_image, read_trimap, write_png
from ..utils.trimap_values import TRIMAP_BACKGROUND, TRIMAP_FOREGROUND, TRIMAP_UNKNOWN
from .composition import composite_on_background, fit_background
from .matting_dataset import find_sibling, sibling_rel_path


def list_photos(src_root: str) -> List[str]:
    """The image paths listed in ``src_root``/val.txt, relative to src_root."""
    with open(os.path.join(src_root, 'val.txt'), encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def _scale_to_long_side(array: np.ndarray, long_side: int, nearest: bool = False) -> np.ndarray:
    """``array`` [H, W(, C)] scaled (aspect kept) so its longer side is ``long_side`` pixels:
    area interpolation, or nearest neighbour for trimaps. Same dtype."""
    h, w = array.shape[:2]
    size = scaled_size(h, w, long_side / max(h, w))
    return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def _source_file(src_root: str, photo_rel: str, folder: str) -> str:
    """The existing file matching the listed ``photo_rel`` (a path through an 'fg' folder) in
    ``folder`` ('alpha' or 'trimap') instead; see ``matting_dataset.find_sibling``."""
    path = find_sibling(src_root, photo_rel, folder)
    if path is None:
        raise FileNotFoundError(f"{os.path.join(src_root, 'val.txt')}: no {folder} file for "
                                f"{photo_rel}; expected a file of that name in the '{folder}' folder "
                                f"that replaces its 'fg' folder.")
    return path


def build_training_set(out_root: str, src_root: str, long_side: int = 224,
                       max_photos: Optional[int] = None) -> str:
    """Blend every shipped photo onto every shipped background, in the PPM-100 layout.

    Args:
        out_root: dataset root to create (``train/fg``, ``train/alpha``, ``train.txt``).
        long_side: the longer image side after downscaling, in pixels.
        max_photos: use only the first photos of val.txt (None: all 6).

    Returns:
        The path of ``train.txt``.
    """
    photos = list_photos(src_root)[:max_photos]
    backgrounds = sorted(os.listdir(os.path.join(src_root, 'bg')))
    lines = []
    for rel in photos:
        stem = os.path.splitext(os.path.basename(rel))[0]
        image = read_image(os.path.join(src_root, rel))
        alpha = read_alpha(_source_file(src_root, rel, 'alpha'))
        for bg_name in backgrounds:
            background = read_image(os.path.join(src_root, 'bg', bg_name))
            blended = composite_on_background(
                image, alpha, fit_background(background, *alpha.shape, random_crop=False))
            name = f'{stem}_{os.path.splitext(bg_name)[0]}.png'
            write_png(os.path.join(out_root, 'train', 'fg', name),
                      _scale_to_long_side(blended, long_side))
            write_png(os.path.join(out_root, 'train', 'alpha', name),
                      _scale_to_long_side(alpha, long_side))
            lines.append(f'train/fg/{name}')
    list_path = os.path.join(out_root, 'train.txt')
    with open(list_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    return list_path


def build_validation_set(out_root: str, src_root: str, long_side: int = 96,
                         max_photos: Optional[int] = None) -> str:
    """Downscaled copies of the real photos, alphas and trimaps (``val/...``, ``val.txt``).

    Downscaling softens the alpha's edges, so every pixel whose downscaled alpha is not
    exactly 0 or 255 becomes unknown (128) in the trimap: known regions stay truthful.
    Returns the path of ``val.txt``.
    """
    photos = list_photos(src_root)[:max_photos]
    for rel in photos:
        image = _scale_to_long_side(read_image(os.path.join(src_root, rel)), long_side)
        alpha = _scale_to_long_side(read_alpha(_source_file(src_root, rel, 'alpha')), long_side)
        trimap = _scale_to_long_side(read_trimap(_source_file(src_root, rel, 'trimap')), long_side,
                                     nearest=True)
        trimap[(alpha > 0) & (alpha < 255)] = TRIMAP_UNKNOWN
        trimap[(trimap == TRIMAP_BACKGROUND) & (alpha == 255)] = TRIMAP_UNKNOWN
        trimap[(trimap == TRIMAP_FOREGROUND) & (alpha == 0)] = TRIMAP_UNKNOWN
        for folder, array in (('fg', image), ('alpha', alpha), ('trimap', trimap)):
            write_png(os.path.join(out_root, sibling_rel_path(rel, folder)), array)
    list_path = os.path.join(out_root, 'val.txt')
    with open(list_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(photos) + '\n')
    return list_path

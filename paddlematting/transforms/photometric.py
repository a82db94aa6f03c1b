"""Photometric augmentation. These change ``img`` only: alpha, trimap, fg and bg stay as they are.

They expect img as uint8 [H, W, 3] RGB (place them before Normalize) and return uint8.
Randomness comes from numpy's global generator, so ``np.random.seed`` makes a run reproducible.
"""
from typing import Dict

import cv2
import numpy as np

from ..utils import manager

# ITU-R BT.601 luma weights for RGB, the usual definition of "gray" for colour enhancement
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def check_uint8_img(data: Dict, name: str) -> np.ndarray:
    """``data['img']`` after checking it is uint8 [H, W, 3]; ``name`` (the transform) goes in the error."""
    img = data['img']
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"{name} expects sample['img'] as uint8 [H, W, 3] (put it before "
                         f"Normalize), got dtype {img.dtype} shape {img.shape}.")
    return img


def adjust_brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """Scale intensities by ``factor`` (float32 [H, W, 3] in, float32 out, unclipped)."""
    return img * np.float32(factor)


def adjust_contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the image's mean gray level: 0 gives flat gray, 1 the input."""
    mean_gray = np.float32((img @ _LUMA).mean())
    return mean_gray + np.float32(factor) * (img - mean_gray)


def adjust_saturation(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the per-pixel gray image: 0 gives grayscale, 1 the input."""
    gray = (img @ _LUMA)[:, :, None]
    return gray + np.float32(factor) * (img - gray)


def shift_hue(img: np.ndarray, delta: int) -> np.ndarray:
    """Rotate hue by ``delta`` steps out of 256 (cv2's full-range HSV), wrapping around."""
    rgb = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)
    hsv[:, :, 0] = (hsv[:, :, 0].astype(np.int32) + int(delta)) % 256
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL).astype(np.float32)


@manager.TRANSFORMS.add_component
class RandomDistort:
    """Randomly adjust brightness, contrast, saturation and hue, in a random order.

    Each adjustment happens with its own probability; brightness/contrast/saturation factors
    are drawn from [1 - range, 1 + range], the hue shift (integer, out of 256) from
    [-hue_range, hue_range].
    """

    def __init__(self, brightness_range: float = 0.5, brightness_prob: float = 0.5,
                 contrast_range: float = 0.5, contrast_prob: float = 0.5,
                 saturation_range: float = 0.5, saturation_prob: float = 0.5,
                 hue_range: int = 18, hue_prob: float = 0.5):
        self.brightness_range = brightness_range
        self.brightness_prob = brightness_prob
        self.contrast_range = contrast_range
        self.contrast_prob = contrast_prob
        self.saturation_range = saturation_range
        self.saturation_prob = saturation_prob
        self.hue_range = hue_range
        self.hue_prob = hue_prob

    def _draw_ops(self):
        """[(function, parameter)] for the adjustments that fire this time, in random order."""
        candidates = [
            (adjust_brightness, self.brightness_prob, self.brightness_range),
            (adjust_contrast, self.contrast_prob, self.contrast_range),
            (adjust_saturation, self.saturation_prob, self.saturation_range),
            (shift_hue, self.hue_prob, self.hue_range),
        ]
        ops = []
        for index in np.random.permutation(len(candidates)):
            func, prob, spread = candidates[index]
            if np.random.rand() < prob:
                if func is shift_hue:
                    ops.append((func, int(np.random.randint(-int(spread), int(spread) + 1))))
                else:
                    ops.append((func, float(np.random.uniform(1 - spread, 1 + spread))))
        return ops

    def __call__(self, data: Dict) -> Dict:
        img = check_uint8_img(data, 'RandomDistort').astype(np.float32)
        for func, param in self._draw_ops():
            # clip after each step, as each one acts on a displayable image
            img = np.clip(func(img, param), 0, 255)
        data['img'] = np.rint(img).astype(np.uint8)
        return data


@manager.TRANSFORMS.add_component
class RandomBlur:
    """With probability ``prob``, Gaussian-blur img with an odd kernel of 3, 5, 7 or 9 pixels."""

    def __init__(self, prob: float = 0.1):
        self.prob = float(prob)

    def __call__(self, data: Dict) -> Dict:
        check_uint8_img(data, 'RandomBlur')
        if np.random.rand() < self.prob:
            ksize = int(np.random.choice([3, 5, 7, 9]))
            data['img'] = cv2.GaussianBlur(data['img'], (ksize, ksize), 0)
        return data

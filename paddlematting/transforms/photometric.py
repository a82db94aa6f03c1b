"""Photometric augmentation. These change ``img`` only: alpha, trimap, fg and bg stay as they are.

They expect img as uint8 [H, W, 3] RGB (place them before Normalize) and return uint8.
Randomness comes from numpy's global generator, so ``np.random.seed`` makes a run reproducible.
"""
from typing import Dict

import cv2
import numpy as np

from ..config import manager
from .arg_checks import (check_int_in_range, check_number_in_range, check_probability,
                         check_uint8_img)

# ITU-R BT.601 luma weights for RGB, the usual definition of "gray" for colour enhancement
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# RandomDistort's hue shift is out of 256 steps: a shift of 128 either way covers the circle
MAX_HUE_RANGE = 128
# RandomBlur's Gaussian kernel sizes, one drawn per blurred image
BLUR_KSIZES = (3, 5, 7, 9)


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


def _check_factor_range(value: float, argument: str) -> float:
    """A brightness/contrast/saturation spread in [0, 1], so 1 - spread stays non-negative."""
    return check_number_in_range(value, f'RandomDistort.{argument}', 0, 1)


@manager.TRANSFORMS.add_component
class RandomDistort:
    """Randomly adjust brightness, contrast, saturation and hue, in a random order.

    Each adjustment happens with its own probability; brightness/contrast/saturation factors
    are drawn from [1 - range, 1 + range], the hue shift (integer, out of 256) from
    [-hue_range, hue_range].

    Args:
        brightness_range, contrast_range, saturation_range: numbers in [0, 1] (so the factor
            never turns negative).
        hue_range: an integer in [0, 128].
        brightness_prob, contrast_prob, saturation_prob, hue_prob: probabilities in [0, 1].
    """

    def __init__(self, brightness_range: float = 0.5, brightness_prob: float = 0.5,
                 contrast_range: float = 0.5, contrast_prob: float = 0.5,
                 saturation_range: float = 0.5, saturation_prob: float = 0.5,
                 hue_range: int = 18, hue_prob: float = 0.5):
        self.brightness_range = _check_factor_range(brightness_range, 'brightness_range')
        self.brightness_prob = check_probability(brightness_prob, 'RandomDistort.brightness_prob')
        self.contrast_range = _check_factor_range(contrast_range, 'contrast_range')
        self.contrast_prob = check_probability(contrast_prob, 'RandomDistort.contrast_prob')
        self.saturation_range = _check_factor_range(saturation_range, 'saturation_range')
        self.saturation_prob = check_probability(saturation_prob, 'RandomDistort.saturation_prob')
        self.hue_range = check_int_in_range(hue_range, 'RandomDistort.hue_range', 0, MAX_HUE_RANGE)
        self.hue_prob = check_probability(hue_prob, 'RandomDistort.hue_prob')

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
    """With probability ``prob`` (in [0, 1]), Gaussian-blur img with a 3, 5, 7 or 9 pixel kernel."""

    def __init__(self, prob: float = 0.1):
        self.prob = check_probability(prob, 'RandomBlur.prob')

    def __call__(self, data: Dict) -> Dict:
        check_uint8_img(data, 'RandomBlur')
        if np.random.rand() < self.prob:
            ksize = int(np.random.choice(BLUR_KSIZES))
            data['img'] = cv2.GaussianBlur(data['img'], (ksize, ksize), 0)
        return data

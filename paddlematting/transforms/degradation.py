"""Image-quality degradations: sensor noise, JPEG re-compression and over-sharpening.

They teach a network the artefacts of real photos. Like the photometric transforms they
change ``img`` only (alpha, trimap, fg and bg stay as they are), expect it as uint8
[H, W, 3] RGB (place them before Normalize) and return uint8 of the same shape.
Randomness comes from numpy's global generator, so ``np.random.seed`` reproduces a run.

Registered under PaddleSeg Matting's names and arguments (``RandomNoise(prob)``,
``RandomReJpeg(prob)``, ``RandomSharpen(prob)``, each defaulting to ``prob=0.1``), with the
same parameter distributions. Two differences: every result is rounded back to uint8
(PaddleSeg leaves a float64 image after RandomNoise), and RandomSharpen leaves fg/bg alone
(PaddleSeg also sharpens them, with fixed parameters).
"""
from typing import Dict, Sequence

import cv2
import numpy as np

from ..config import manager
from .arg_checks import check_int_in_range, check_probability, check_uint8_img, parse_interval

# RandomNoise: per-image mean and variance of the added Gaussian noise, as fractions of 255
NOISE_MEAN_RANGE = (0.0, 0.04)
NOISE_VAR_RANGE = (0.0, 0.001)
# RandomSharpen: Gaussian kernel sizes (0 = derived from the sigma) and the sharpening amount
SHARPEN_KSIZES = (0, 3, 5, 7, 9)
SHARPEN_SIGMA = 5.0
SHARPEN_AMOUNT_RANGE = (0.1, 0.5)


def add_gaussian_noise(img: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Add i.i.d. Gaussian noise N(mean, std) * 255 to every value of ``img``.

    Args:
        img: uint8 [H, W, C].
        mean, std: the noise's mean and standard deviation as fractions of 255 (std >= 0).
    Returns:
        uint8 [H, W, C]: rounded and clipped to [0, 255]. The noise is drawn from
        ``np.random.normal``, one value per element.
    """
    noise = np.random.normal(mean, std, img.shape) * 255.0
    return np.clip(np.rint(img + noise), 0, 255).astype(np.uint8)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode ``img`` (uint8 [H, W, 3] RGB) as JPEG at ``quality`` (0..100) and decode it again.

    Done in memory; the image is handed to OpenCV in its BGR order so that the codec's
    luma/chroma split sees the right colours. Returns uint8 [H, W, 3] RGB.
    """
    ok, encoded = cv2.imencode('.jpg', cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                               [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise RuntimeError(f'OpenCV could not JPEG-encode an image of shape {img.shape}.')
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def unsharp_mask(img: np.ndarray, ksize: int, amount: float, sigma: float = SHARPEN_SIGMA) -> np.ndarray:
    """Sharpen: ``(1 + amount) * img - amount * GaussianBlur(img)``, rounded and saturated.

    Args:
        img: uint8 [H, W, C].
        ksize: odd Gaussian kernel size, or 0 to let OpenCV derive it from ``sigma``
            (31 pixels for sigma 5 on uint8 images).
        amount: how much of the high-pass detail is added (>= 0; 0 returns the input).
        sigma: the Gaussian's standard deviation in pixels.
    Returns:
        uint8 [H, W, C]; flat regions are unchanged, edges gain contrast.
    """
    blurred = cv2.GaussianBlur(img, (int(ksize), int(ksize)), sigma)
    return cv2.addWeighted(img, 1.0 + amount, blurred, -amount, 0)


@manager.TRANSFORMS.add_component
class RandomNoise:
    """With probability ``prob``, add Gaussian noise to img.

    Per image, the mean is drawn from U(0, 0.04) and the variance from U(0, 0.001)
    (fractions of 255: a brightening of up to about 10 levels, a spread of up to about 8);
    then one noise value per pixel and channel.
    """

    def __init__(self, prob: float = 0.1):
        self.prob = check_probability(prob, 'RandomNoise.prob')

    def __call__(self, data: Dict) -> Dict:
        img = check_uint8_img(data, 'RandomNoise')
        if np.random.rand() < self.prob:
            mean = np.random.uniform(*NOISE_MEAN_RANGE)
            var = np.random.uniform(*NOISE_VAR_RANGE)
            data['img'] = add_gaussian_noise(img, mean, np.sqrt(var))
        return data


def _check_jpeg_quality(value: int, name: str) -> int:
    """A JPEG quality: an integer in [0, 100]."""
    return check_int_in_range(value, name, 0, 100)


@manager.TRANSFORMS.add_component
class RandomReJpeg:
    """With probability ``prob``, re-compress img as a JPEG of random quality.

    Args:
        prob: the probability of re-compressing, in [0, 1].
        quality_range: (low, high), both included, integers in [0, 100]; the quality is drawn
            uniformly from them. The default (70, 94) is PaddleSeg's fixed range, which it
            does not expose as an argument.
    """

    def __init__(self, prob: float = 0.1, quality_range: Sequence[int] = (70, 94)):
        self.prob = check_probability(prob, 'RandomReJpeg.prob')
        self.quality_range = parse_interval(quality_range, 'RandomReJpeg.quality_range',
                                            _check_jpeg_quality)

    def __call__(self, data: Dict) -> Dict:
        img = check_uint8_img(data, 'RandomReJpeg')
        if np.random.rand() < self.prob:
            quality = np.random.randint(self.quality_range[0], self.quality_range[1] + 1)
            data['img'] = jpeg_roundtrip(img, quality)
        return data


@manager.TRANSFORMS.add_component
class RandomSharpen:
    """With probability ``prob``, unsharp-mask img.

    The Gaussian kernel size is drawn from {0 (derived from sigma 5: 31 pixels), 3, 5, 7, 9},
    the sharpening amount from U(0.1, 0.5); see :func:`unsharp_mask`.
    """

    def __init__(self, prob: float = 0.1):
        self.prob = check_probability(prob, 'RandomSharpen.prob')

    def __call__(self, data: Dict) -> Dict:
        img = check_uint8_img(data, 'RandomSharpen')
        if np.random.rand() < self.prob:
            ksize = int(np.random.choice(SHARPEN_KSIZES))
            amount = float(np.random.uniform(*SHARPEN_AMOUNT_RANGE))
            data['img'] = unsharp_mask(img, ksize, amount)
        return data

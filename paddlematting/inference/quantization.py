"""INT8 post-training quantization of an exported model (ONNX Runtime's static PTQ).

``export.py --onnx --quantize int8 --calib_images DIR`` calibrates the activation ranges on the
user's own images (run through the folder's inference transforms, exactly as at prediction),
then writes ``model_int8.onnx`` (QDQ format: int8 weights per output channel, uint8
activations) beside ``model.onnx`` and names it in deploy.yaml (``onnx_int8``). It is never
the default: ``Predictor(..., precision='int8')`` / ``--precision int8`` ask for it.
"""
import logging
import os
from typing import Iterator, Sequence

import numpy as np

from .deploy_config import DeployConfig, load_deploy_config, write_deploy_config

logger = logging.getLogger('paddlematting')

INT8_ONNX_FILE = 'model_int8.onnx'
# calibration images used at most: ranges settle after a few dozen, and each costs one run
MAX_CALIBRATION_IMAGES = 32

__all__ = ['INT8_ONNX_FILE', 'MAX_CALIBRATION_IMAGES', 'calibration_feeds', 'quantize_int8']


def calibration_feeds(deploy: DeployConfig, image_paths: Sequence[str]) -> Iterator[dict]:
    """Model feeds for each calibration image, prepared by the folder's transforms.

    Trimap models get an all-unknown trimap (128 everywhere), which routes every pixel
    through the network's uncertain-region path, the one whose ranges matter.
    """
    from ..builders.dataset import build_transforms
    from ..pipeline.prediction import prepare_sample
    from ..utils.image_io import read_image

    transforms = build_transforms(deploy.transforms, os.path.join(deploy.folder, 'deploy.yaml'))
    for path in image_paths:
        image = read_image(path)
        trimap = np.full(image.shape[:2], 128, np.uint8) if deploy.needs_trimap else None
        sample = prepare_sample(image, trimap, transforms)
        feeds = {'img': sample['img']}
        if deploy.needs_trimap:
            feeds['trimap'] = sample['trimap']
        yield feeds


def quantize_int8(folder: str, image_paths: Sequence[str]) -> DeployConfig:
    """Quantize ``folder``'s model.onnx to INT8, calibrated on ``image_paths``.

    Args:
        folder: an export with model.onnx (``export.py --onnx``).
        image_paths: RGB images like those the model will see (at least 1; the first
            ``MAX_CALIBRATION_IMAGES`` are used).
    Returns:
        The updated DeployConfig (``int8_onnx_file`` set).
    Raises:
        FileNotFoundError: no model.onnx in the folder.
        ValueError: no calibration image.
        ImportError: onnxruntime's quantization tools are missing (``pip install -e .[onnx]``).
    """
    deploy = load_deploy_config(folder)
    if deploy.onnx_path is None:
        raise FileNotFoundError(f'{folder} holds no model.onnx to quantize: export with --onnx.')
    paths = list(image_paths)[:MAX_CALIBRATION_IMAGES]
    if not paths:
        raise ValueError('INT8 calibration needs at least one image (--calib_images).')
    try:
        from onnxruntime import quantization as ortq
    except ImportError as error:
        raise ImportError(f'INT8 quantization needs onnxruntime with its quantization tools '
                          f'(onnx, ml_dtypes): `pip install -e .[onnx]` ({error}).') from error

    class _Reader(ortq.CalibrationDataReader):
        def __init__(self):
            self._feeds = calibration_feeds(deploy, paths)

        def get_next(self):
            return next(self._feeds, None)

    logger.info('Calibrating INT8 ranges on %d image(s)...', len(paths))
    # the quantizer's notes (graph clean-ups, pre-processing advice) are not for our users:
    # only errors from ONNX Runtime's C++ side, and none from its Python logging warnings
    import onnxruntime
    onnxruntime.set_default_logger_severity(3)
    root = logging.getLogger()
    root_level = root.level
    root.setLevel(logging.ERROR)
    target = os.path.join(deploy.folder, INT8_ONNX_FILE)
    tmp = target + f'.tmp-{os.getpid()}'
    try:
        ortq.quantize_static(deploy.onnx_path, tmp, _Reader(), quant_format=ortq.QuantFormat.QDQ,
                             per_channel=True, activation_type=ortq.QuantType.QUInt8,
                             weight_type=ortq.QuantType.QInt8,
                             calibrate_method=ortq.CalibrationMethod.MinMax)
        os.replace(tmp, target)
    finally:
        root.setLevel(root_level)
        if os.path.exists(tmp):
            os.remove(tmp)
    deploy.int8_onnx_file = INT8_ONNX_FILE
    write_deploy_config(deploy)
    return deploy

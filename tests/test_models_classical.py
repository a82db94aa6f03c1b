"""Classical trimap methods (CloseFormMatting, KNNMatting, LearningBasedMatting, FastMatting,
RandomWalksMatting): pymatting's solvers behind the model convention, run by val.py/predict.py,
refused by train.py/export.py.

The SAD check runs val.py and compares each image's SAD with pymatting called directly on the
photo (``/ 255``) and trimap and scored with our SAD. CloseFormMatting runs unmarked on the
shipped images downscaled to half size (a few seconds) and, under the slow mark, at full
resolution; the other methods at a quarter of the size, under the slow mark (their solvers
take 10-60 s per full-size image on two cores, and the equality does not depend on the size).
"""
import csv
import logging
import os

import cv2
import numpy as np
import paddle
import pytest

from conftest import REAL_DATA_ROOT, REPO_ROOT
from paddlematting.cli import export as export_cli
from paddlematting.cli import train as train_cli
from paddlematting.cli import val as val_cli
from paddlematting.pipeline.outputs import alpha_to_uint8
from paddlematting.metrics import SAD
from paddlematting.models import classical
from paddlematting.config import manager

METHODS = {  # registered name -> (config file, pymatting solver)
    'CloseFormMatting': ('closeform_matting.yml', 'estimate_alpha_cf'),
    'KNNMatting': ('knn_matting.yml', 'estimate_alpha_knn'),
    'LearningBasedMatting': ('learning_based_matting.yml', 'estimate_alpha_lbdm'),
    'FastMatting': ('fast_matting.yml', 'estimate_alpha_lkm'),
    'RandomWalksMatting': ('random_walks_matting.yml', 'estimate_alpha_rw'),
}
NAMES = [line.strip() for line in open(os.path.join(REAL_DATA_ROOT, 'val.txt')) if line.strip()]


def _config(name):
    return os.path.join(REPO_ROOT, 'configs', 'classical', METHODS[name][0])


def _normalised(image):
    """What the val pipeline's default Normalize makes of a uint8 RGB image: [1,3,H,W]."""
    return ((image.astype(np.float32) / np.float32(255) - 0.5) / 0.5).transpose(2, 0, 1)[None]


def _small_photo():
    image = cv2.cvtColor(cv2.imread(os.path.join(REAL_DATA_ROOT, 'val', 'fg', 'GT05.png')), cv2.COLOR_BGR2RGB)
    trimap = cv2.imread(os.path.join(REAL_DATA_ROOT, 'val', 'trimap', 'GT05.png'), cv2.IMREAD_GRAYSCALE)
    # a crop across the toy's edge keeps the solve to a fraction of a second
    return np.ascontiguousarray(image[80:160, 450:550]), np.ascontiguousarray(trimap[80:160, 450:550])


@pytest.mark.parametrize('name', sorted(METHODS))
def test_registered_with_the_declarations(name):
    cls = manager.MODELS[name]
    assert issubclass(cls, paddle.nn.Layer) and cls.solver_name == METHODS[name][1]
    assert cls.input_names == ('img', 'trimap') and cls.trainable is False and cls.exportable is False
    assert len(cls().parameters()) == 0


def test_forward_undoes_normalize_and_equals_pymatting():
    import pymatting
    image, trimap = _small_photo()
    assert ((trimap > 0) & (trimap < 255)).any()
    model = classical.CloseFormMatting()
    alpha = model({'img': paddle.to_tensor(_normalised(image)),
                   'trimap': paddle.to_tensor(trimap[None, None].astype(np.float32))})
    assert alpha.shape == [1, 1, 80, 100] and alpha.dtype == paddle.float32
    direct = pymatting.estimate_alpha_cf(image / 255.0, trimap / 255.0)
    np.testing.assert_allclose(alpha.numpy()[0, 0], np.clip(direct, 0, 1), atol=1e-6)
    # a batch of two is two independent solves
    both = model({'img': paddle.to_tensor(np.concatenate([_normalised(image)] * 2)),
                  'trimap': paddle.to_tensor(np.stack([trimap[None]] * 2).astype(np.float32))})
    np.testing.assert_array_equal(both.numpy()[1], alpha.numpy()[0])


def test_another_normalisation_is_caught_and_can_be_configured():
    image, trimap = _small_photo()
    imagenet = ((image / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).astype(np.float32)
    inputs = {'img': paddle.to_tensor(imagenet.transpose(2, 0, 1)[None]),
              'trimap': paddle.to_tensor(trimap[None, None].astype(np.float32))}
    with pytest.raises(ValueError, match='set model.mean/std'):
        classical.CloseFormMatting()(inputs)
    configured = classical.CloseFormMatting(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    default = classical.CloseFormMatting()({'img': paddle.to_tensor(_normalised(image)), 'trimap': inputs['trimap']})
    np.testing.assert_allclose(configured(inputs).numpy(), default.numpy(), atol=1e-6)


def test_first_use_is_announced_once(monkeypatch, records):
    image, trimap = _small_photo()
    monkeypatch.setattr(classical, '_announced', False)
    # the CLIs log at INFO (cli.common.setup_logging); a bare test process would drop INFO
    package_logger = logging.getLogger('paddlematting')
    level = package_logger.level
    package_logger.setLevel(logging.INFO)
    try:
        model = classical.CloseFormMatting()
        inputs = {'img': paddle.to_tensor(_normalised(image)),
                  'trimap': paddle.to_tensor(trimap[None, None].astype(np.float32))}
        model(inputs)
        model(inputs)
    finally:
        package_logger.setLevel(level)
    assert len([m for m in records if 'numba' in m and 'tens of seconds' in m]) == 1


def _downscaled_copy(root, factor=2):
    """The shipped val set at 1/factor size (trimaps by nearest neighbour, so they stay
    0/128/255)."""
    for name in NAMES:
        for folder, flag, interpolation in (('fg', cv2.IMREAD_COLOR, cv2.INTER_AREA),
                                            ('alpha', cv2.IMREAD_GRAYSCALE, cv2.INTER_AREA),
                                            ('trimap', cv2.IMREAD_GRAYSCALE, cv2.INTER_NEAREST)):
            source = os.path.join(REAL_DATA_ROOT, name.replace('/fg/', f'/{folder}/'))
            picture = cv2.imread(source, flag)
            small = cv2.resize(picture, (picture.shape[1] // factor, picture.shape[0] // factor),
                               interpolation=interpolation)
            target = os.path.join(root, name.replace('/fg/', f'/{folder}/'))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            cv2.imwrite(target, small)
    with open(os.path.join(root, 'val.txt'), 'w') as f:
        f.write('\n'.join(NAMES) + '\n')
    return root


def _direct_sads(solver_name, root):
    """pymatting on photo / 255 and trimap / 255, as float32 alphas rounded to 8 bits like val.py."""
    import pymatting
    solver = getattr(pymatting, solver_name)
    sads = {}
    for name in NAMES:
        image = cv2.cvtColor(cv2.imread(os.path.join(root, name)), cv2.COLOR_BGR2RGB)
        trimap = cv2.imread(os.path.join(root, name.replace('/fg/', '/trimap/')), cv2.IMREAD_GRAYSCALE)
        gt = cv2.imread(os.path.join(root, name.replace('/fg/', '/alpha/')), cv2.IMREAD_GRAYSCALE)
        alpha = np.clip(solver(image / 255.0, trimap / 255.0), 0, 1).astype(np.float32)
        sads[name] = SAD().update(alpha_to_uint8(alpha), gt, trimap)
    return sads


def _val_sads(name, root, save_dir):
    assert val_cli.main(['--config', _config(name), '--device', 'cpu', '--metrics', 'sad',
                         '--save_dir', str(save_dir), '--opts', f'val_dataset.dataset_root={root}']) == 0
    with open(os.path.join(save_dir, 'metrics_per_image.csv')) as f:
        return {row['img_name']: float(row['sad']) for row in csv.DictReader(f) if row['img_name'] != 'mean'}


def _check_val_equals_direct(name, root, save_dir):
    ours, direct = _val_sads(name, root, save_dir), _direct_sads(METHODS[name][1], root)
    assert sorted(ours) == sorted(NAMES)
    for image_name in NAMES:
        # the CSV keeps 6 decimals
        assert ours[image_name] == pytest.approx(direct[image_name], abs=1e-6), image_name


# the sparse solvers of KNN, fast (large-kernel) and random-walk matting take 10-60 s per
# full-size image here; the equality checked does not depend on the size, so they run on the
# shipped images at a quarter of their size, closed-form at half and (slow) at full size
_CHECK_FACTOR = {name: 2 if name == 'CloseFormMatting' else 4 for name in METHODS}


@pytest.mark.parametrize('name', [pytest.param(name, marks=() if name == 'CloseFormMatting' else pytest.mark.slow)
                                  for name in sorted(METHODS)])
def test_val_sad_equals_pymatting_downscaled(name, tmp_path):
    root = _downscaled_copy(str(tmp_path / 'data'), _CHECK_FACTOR[name])
    _check_val_equals_direct(name, root, tmp_path / 'out')


@pytest.mark.slow
def test_val_sad_equals_pymatting_full_size(tmp_path):
    _check_val_equals_direct('CloseFormMatting', REAL_DATA_ROOT, tmp_path / 'out')


@pytest.mark.parametrize('name', ['CloseFormMatting', 'RandomWalksMatting'])
def test_train_and_export_refuse_with_one_line(name, tmp_path, records):
    assert train_cli.main(['--config', _config(name), '--device', 'cpu', '--iters', '1',
                           '--save_dir', str(tmp_path / 'train')]) == 2
    assert export_cli.main(['--config', _config(name), '--device', 'cpu',
                            '--save_dir', str(tmp_path / 'export')]) == 2
    refusals = [m for m in records if name in m and ('no parameters to train' in m or 'cannot be exported' in m)]
    assert len(refusals) == 2 and all('\n' not in m for m in refusals)
    assert not os.path.exists(tmp_path / 'train') and not os.path.exists(tmp_path / 'export')

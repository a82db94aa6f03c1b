"""The real flow on tiny real data: train.py -> val.py -> predict.py with MODNet-MobileNetV2.

Images come from the shipped alphamatting photos, downscaled to 64-96 px, so every step
runs in seconds on a CPU.
"""
import csv
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REAL_DATA_ROOT, REPO_ROOT
from paddlematting import Config
from paddlematting.engine.runtime import seed_everything
from paddlematting.engine.trainer import Trainer, TrainOptions
from paddlematting.pipeline.outputs import cutout_foreground
from paddlematting.utils.image_io import read_alpha, read_image
from paddlematting.datasets.tiny_sets import build_training_set, build_validation_set
from paddlematting.builders import Built

DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'quick_start', 'modnet_mobilenetv2_demo.yml')
DIM_CONFIG = os.path.join(REPO_ROOT, 'configs', 'dim', 'dim_vgg16.yml')
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
VAL_TRANSFORMS = ('val_dataset.transforms=[{type: LoadImages}, {type: ResizeByShort, '
                  'short_size: 64}, {type: ResizeToIntMult, mult_int: 32}, {type: Normalize}]')


def _run(script, *args, env=ENV, timeout=300):
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, script), *args], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)


def _read_csv(path):
    with open(path, newline='') as f:
        return {row['img_name']: row for row in csv.DictReader(f)}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('e2e')
    build_training_set(str(root / 'train_data'), REAL_DATA_ROOT, long_side=100, max_photos=2)
    build_validation_set(str(root / 'val_data'), REAL_DATA_ROOT, long_side=72, max_photos=2)
    return root


@pytest.fixture(scope='module')
def data_opts(data):
    return [f'train_dataset.dataset_root={data / "train_data"}',
            'train_dataset.transforms=[{type: LoadImages}, {type: RandomCrop, crop_size: '
            '[[64, 64]]}, {type: RandomHorizontalFlip}, {type: Normalize}]',
            f'val_dataset.dataset_root={data / "val_data"}', VAL_TRANSFORMS]


@pytest.fixture(scope='module')
def trained(data, data_opts):
    save_dir = data / 'run'
    result = _run('train.py', '--config', DEMO_CONFIG, '--device', 'cpu', '--iters', '4',
                  '--batch_size', '2', '--save_interval', '2', '--log_iters', '2', '--do_eval',
                  '--use_vdl', '--seed', '0', '--save_dir', str(save_dir), '--opts', *data_opts)
    assert result.returncode == 0, result.stderr[-4000:]
    return save_dir, result.stderr


def test_training_on_one_batch_lowers_the_loss(data):
    seed_everything(0)
    cfg = Built(Config(DEMO_CONFIG, batch_size=2, opts=[
        f'train_dataset.dataset_root={data / "train_data"}',
        'train_dataset.transforms=[{type: LoadImages}, {type: Resize, target_size: [64, 64]}, '
        '{type: Normalize}]',
        'lr_scheduler={type: PiecewiseDecay, boundaries: [1000], values: [0.01, 0.01]}']))
    options = TrainOptions(iters=8, batch_size=2, save_dir=str(data / 'one_batch'),
                           save_interval=100, log_iters=100, seed=0)
    subset = _Subset(cfg.train_dataset, [0, 1])
    outcome = Trainer(cfg.model, cfg.optimizer, subset, options,
                      lr_scheduler=cfg.lr_scheduler).train()
    assert len(outcome.losses) == 8
    assert np.mean(outcome.losses[-2:]) < 0.9 * outcome.losses[0], outcome.losses


class _Subset:
    """The first samples of a dataset (one batch), always the same."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]


def test_training_logs_checkpoints_best_model_and_visualdl(trained):
    save_dir, log = trained
    assert sorted(n for n in os.listdir(save_dir) if n != 'vdl_log') == [
        'best_model', 'iter_2', 'iter_4', 'latest']
    assert (save_dir / 'latest').read_text().strip() == 'iter_4'
    assert os.path.isfile(save_dir / 'best_model' / 'model.pdparams')
    for expected in ('paddle: 3', 'device: cpu', 'Config (merged)', 'type: MODNet',
                     '[TRAIN] epoch=', 'iter=4/4', 'semantic=', 'detail=', 'fusion=', 'lr=',
                     'batch_cost=', 'reader_cost=', 'samples/s', 'ETA', '[EVAL] iter 4: SAD:'):
        assert expected in log, expected
    records = b''.join(open(os.path.join(save_dir, 'vdl_log', name), 'rb').read()
                       for name in os.listdir(save_dir / 'vdl_log'))
    for tag in (b'Train/all', b'Train/semantic', b'Train/lr', b'Train/batch_cost',
                b'Evaluate/SAD', b'Evaluate/CONN', b'Eval/0_pred', b'Eval/0_gt'):
        assert tag in records, tag


def test_val_reports_metrics_and_both_backends_agree(trained, data, data_opts):
    save_dir, _ = trained
    weights = str(save_dir / 'iter_4' / 'model.pdparams')
    common = ['--config', DEMO_CONFIG, '--device', 'cpu', '--model_path', weights,
              '--opts', *data_opts]
    dygraph = _run('val.py', *common, '--backend', 'dygraph', '--save_results', '--save_dir',
                   str(data / 'val_dygraph'))
    assert dygraph.returncode == 0, dygraph.stderr[-4000:]
    rows = _read_csv(data / 'val_dygraph' / 'metrics_per_image.csv')
    assert list(rows) == ['val/fg/GT05.png', 'val/fg/GT11.png', 'mean']
    mean_sad = float(rows['mean']['sad'])
    assert mean_sad > 0
    assert f'SAD: {mean_sad:.4f}' in dygraph.stderr
    for name in ('val/fg/GT05.png', 'val/fg/GT11.png'):
        saved = read_alpha(os.path.join(data / 'val_dygraph', name))
        assert saved.shape == read_alpha(os.path.join(data / 'val_data', name.replace(
            '/fg/', '/alpha/'))).shape

    env = dict(ENV, PADDLEMATTING_EXPORT_CACHE=str(data / 'export_cache'))
    inference = _run('val.py', *common, '--save_dir', str(data / 'val_inference'), env=env)
    assert inference.returncode == 0, inference.stderr[-4000:]
    # the exported model ran, on the CPU engine its export measured fastest
    assert 'Using the exported model' in inference.stderr
    assert 'falling back' not in inference.stderr
    for name, row in _read_csv(data / 'val_inference' / 'metrics_per_image.csv').items():
        for metric in ('sad', 'mse', 'grad', 'conn'):
            assert float(row[metric]) == pytest.approx(float(rows[name][metric]), rel=2e-3,
                                                       abs=1e-4), (name, metric)


def test_predict_writes_mattes_keeps_folders_and_reports_bad_files(trained, data):
    save_dir, _ = trained
    inputs = data / 'predict_in'
    (inputs / 'nested').mkdir(parents=True)
    photo = read_image(os.path.join(data / 'val_data', 'val', 'fg', 'GT05.png'))
    tall = np.ascontiguousarray(np.rot90(photo))  # another aspect ratio
    cv2.imwrite(str(inputs / 'a.jpg'), photo[:, :, ::-1])
    cv2.imwrite(str(inputs / 'nested' / 'b.png'), tall[:, :, ::-1])
    (inputs / 'broken.png').write_bytes(b'not an image')
    out = data / 'predict_out'
    env = dict(ENV, PADDLEMATTING_EXPORT_CACHE=str(data / 'export_cache'))
    result = _run('predict.py', '--config', DEMO_CONFIG, '--device', 'cpu', '--model_path',
                  str(save_dir / 'iter_4' / 'model.pdparams'), '--image_path', str(inputs),
                  '--save_dir', str(out), '--opts', VAL_TRANSFORMS, env=env)
    assert result.returncode == 1, result.stderr[-4000:]
    assert 'broken.png' in result.stderr and '1 of 3 images failed' in result.stderr
    for rel, path in (('a', inputs / 'a.jpg'), ('nested/b', inputs / 'nested' / 'b.png')):
        image = read_image(str(path))  # as decoded: the jpeg is lossy
        alpha = read_alpha(str(out / f'{rel}_alpha.png'))
        rgba = cv2.imread(str(out / f'{rel}_rgba.png'), cv2.IMREAD_UNCHANGED)
        assert alpha.shape == image.shape[:2]
        assert rgba.shape == image.shape[:2] + (4,)
        np.testing.assert_array_equal(rgba[:, :, 3], alpha)
        # RGB: the foreground colours estimated under the written alpha (blur fusion default)
        np.testing.assert_array_equal(rgba[:, :, 2::-1], cutout_foreground(image, alpha))
    assert not os.path.exists(out / 'broken_alpha.png')


def test_predict_with_a_trimap_model_needs_trimaps(tmp_path):
    result = _run('predict.py', '--config', DIM_CONFIG, '--device', 'cpu', '--image_path',
                  str(tmp_path))
    assert result.returncode == 2
    assert '--trimap_path' in result.stderr and 'DIM' in result.stderr

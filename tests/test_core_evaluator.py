"""Evaluator: restore to the original size, the trimap convention, CSV and saved PNGs."""
import csv
import os

import numpy as np
import pytest

from conftest import REAL_DATA_ROOT
from paddlematting.core.evaluator import PER_IMAGE_CSV, evaluate
from paddlematting.datasets import MattingDataset
from paddlematting.transforms import LoadImages, Normalize, ResizeByShort, ResizeToIntMult
from paddlematting.utils.image_io import read_alpha, read_trimap
from paddlematting.datasets.tiny_sets import build_validation_set


@pytest.fixture(scope='module')
def small_val_root(tmp_path_factory):
    """Two real photos with their alphas and trimaps, downscaled to 72 px wide."""
    root = str(tmp_path_factory.mktemp('val_set'))
    build_validation_set(root, REAL_DATA_ROOT, long_side=72, max_photos=2)
    return root


def _dataset(root, transforms):
    return MattingDataset(root, transforms=transforms, mode='val', val_file='val.txt',
                          get_trimap=True)


def _ground_truth(root, name, folder='alpha'):
    reader = read_trimap if folder == 'trimap' else read_alpha
    return reader(os.path.join(root, name.replace('/fg/', f'/{folder}/')))


def test_a_runner_returning_the_ground_truth_scores_zero(small_val_root):
    dataset = _dataset(small_val_root, [LoadImages(), Normalize()])
    truth = iter([dataset[i]['alpha'][None] for i in range(len(dataset))])
    result = evaluate(lambda img, trimap: next(truth), dataset, show_progress=False)
    assert result.metrics == {'sad': 0.0, 'mse': 0.0, 'grad': 0.0, 'conn': 0.0}
    assert len(result.per_image) == 2


def test_errors_count_only_the_unknown_region(small_val_root, tmp_path):
    dataset = _dataset(small_val_root, [LoadImages(), Normalize()])
    result = evaluate(lambda img, trimap: np.zeros((1, 1) + img.shape[2:], 'float32'), dataset,
                      metric_names=['sad', 'mse'], save_dir=str(tmp_path), save_results=True,
                      show_progress=False)
    expected_sad, expected_mse = [], []
    for row in result.per_image:
        gt = _ground_truth(small_val_root, row['img_name']).astype(np.float64) / 255
        trimap = _ground_truth(small_val_root, row['img_name'], 'trimap')
        unknown = trimap == 128
        assert unknown.any()
        # pred 0 is forced to 1 inside the known foreground, so only unknown pixels count
        expected_sad.append(gt[unknown].sum() / 1000)
        expected_mse.append(np.square(gt[unknown]).mean())
        assert row['sad'] == pytest.approx(expected_sad[-1])
        assert row['mse'] == pytest.approx(expected_mse[-1])
        saved = read_alpha(os.path.join(tmp_path, row['img_name']))
        np.testing.assert_array_equal(saved, np.where(trimap == 255, 255, 0))
    assert result.metrics['sad'] == pytest.approx(np.mean(expected_sad))

    with open(tmp_path / PER_IMAGE_CSV, newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['img_name', 'sad', 'mse']
    assert [r[0] for r in rows[1:]] == [r['img_name'] for r in result.per_image] + ['mean']
    assert float(rows[-1][1]) == pytest.approx(result.metrics['sad'], abs=1e-6)


def test_predictions_are_restored_to_the_original_size(small_val_root):
    dataset = _dataset(small_val_root,
                       [LoadImages(), ResizeByShort(32), ResizeToIntMult(32), Normalize()])
    seen_shapes = []

    def half(img, trimap):
        seen_shapes.append(img.shape)
        return np.full((img.shape[0], 1) + img.shape[2:], 0.5, 'float32')

    result = evaluate(half, dataset, metric_names=['mse'], num_examples=1, show_progress=False)
    assert all(shape[2] == 32 and shape[3] % 32 == 0 for shape in seen_shapes)
    example = result.examples[0]
    gt = _ground_truth(small_val_root, example['img_name'])
    assert example['pred'].shape == gt.shape and gt.shape[0] > 32
    assert np.all(example['pred'] == 128)
    assert example['input'].dtype == np.uint8 and example['input'].shape[2] == 3

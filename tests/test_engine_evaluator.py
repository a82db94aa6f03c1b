"""Evaluator: restore to the original size, the trimap convention, CSV and saved PNGs."""
import csv
import os

import numpy as np
import pytest

from conftest import REAL_DATA_ROOT
from paddlematting.engine.evaluator import PER_IMAGE_CSV, evaluate
from paddlematting.datasets import MattingDataset
from paddlematting.transforms import LoadImages, Normalize, ResizeByShort, ResizeToIntMult
from paddlematting.utils.image_io import read_alpha, read_trimap
from paddlematting.datasets.tiny_sets import build_validation_set
from paddlematting.engine.evaluator import EvalOptions


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
    result = evaluate(lambda img, trimap: next(truth), dataset, EvalOptions(show_progress=False))
    assert result.metrics == {'sad': 0.0, 'mse': 0.0, 'grad': 0.0, 'conn': 0.0}
    assert len(result.per_image) == 2


def test_errors_count_only_the_unknown_region(small_val_root, tmp_path):
    dataset = _dataset(small_val_root, [LoadImages(), Normalize()])
    result = evaluate(lambda img, trimap: np.zeros((1, 1) + img.shape[2:], 'float32'), dataset,
                      EvalOptions(metric_names=['sad', 'mse'], save_dir=str(tmp_path),
                                  save_results=True, show_progress=False))
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

    result = evaluate(half, dataset,
                      EvalOptions(metric_names=['mse'], num_examples=1, show_progress=False))
    assert all(shape[2] == 32 and shape[3] % 32 == 0 for shape in seen_shapes)
    example = result.examples[0]
    gt = _ground_truth(small_val_root, example['img_name'])
    assert example['pred'].shape == gt.shape and gt.shape[0] > 32
    assert np.all(example['pred'] == 128)
    assert example['input'].dtype == np.uint8 and example['input'].shape[2] == 3


def test_composited_samples_get_distinct_names_and_results_are_png(tmp_path):
    """One foreground on two backgrounds (Composition-1k layout), stored as .jpg."""
    import cv2
    root = tmp_path / 'data'
    for folder in ('val/fg', 'val/alpha', 'bg'):
        (root / folder).mkdir(parents=True)
    alpha = np.zeros((24, 24), np.uint8)
    alpha[6:18, 6:18] = 255
    cv2.imwrite(str(root / 'val' / 'fg' / 'x.jpg'), np.full((24, 24, 3), 200, np.uint8))
    cv2.imwrite(str(root / 'val' / 'alpha' / 'x.png'), alpha)
    cv2.imwrite(str(root / 'bg' / 'b1.png'), np.zeros((24, 24, 3), np.uint8))
    cv2.imwrite(str(root / 'bg' / 'b2.jpg'), np.full((24, 24, 3), 90, np.uint8))
    (root / 'val.txt').write_text('val/fg/x.jpg bg/b1.png\nval/fg/x.jpg bg/b2.jpg\n')
    dataset = _dataset(str(root), [LoadImages(), Normalize()])
    values = iter([0.25, 0.75])

    def constant(img, trimap):
        return np.full((img.shape[0], 1) + img.shape[2:], next(values), 'float32')

    out = tmp_path / 'out'
    result = evaluate(constant, dataset,
                      EvalOptions(metric_names=['sad'], save_dir=str(out), save_results=True,
                                  show_progress=False))
    names = [row['img_name'] for row in result.per_image]
    assert names == ['val/fg/x__b1.jpg', 'val/fg/x__b2.jpg']
    saved = sorted(os.path.relpath(os.path.join(d, f), out).replace(os.sep, '/')
                   for d, _, files in os.walk(out) for f in files)
    assert saved == [PER_IMAGE_CSV, 'val/fg/x__b1.png', 'val/fg/x__b2.png']
    with open(out / 'val' / 'fg' / 'x__b1.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    first = read_alpha(str(out / 'val' / 'fg' / 'x__b1.png'))
    second = read_alpha(str(out / 'val' / 'fg' / 'x__b2.png'))
    unknown = dataset[0]['ori_trimap'] == 128
    assert unknown.any()
    assert np.all(first[unknown] == 64) and np.all(second[unknown] == 191)


def test_result_paths_stay_under_save_dir():
    from paddlematting.engine.evaluator import EvalOptions, result_name, saved_result_options
    from paddlematting.pipeline.outputs import output_paths

    def result_path(save_dir, img_name):
        saved = saved_result_options(EvalOptions())
        return output_paths(save_dir, result_name(img_name), saved).alpha
    assert result_path('out', 'val/fg/GT05.png') == os.path.join('out', 'val', 'fg', 'GT05.png')
    assert result_path('out', 'a/b.jpg') == os.path.join('out', 'a', 'b.png')
    assert result_path('out', '/abs/../x.jpg') == os.path.join('out', 'abs', 'x.png')
    assert result_path('out', '../..') == os.path.join('out', 'unnamed.png')

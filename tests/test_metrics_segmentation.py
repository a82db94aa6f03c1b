"""The segmentation metrics (MAE, max F-measure, S-measure): hand-computed cases, the
degenerate ground truths, and their order on a real matte (higher scores are better)."""
import glob
import os

import cv2
import numpy as np
import pytest

from paddlematting.metrics import MAE, MaxFMeasure, SMeasure, build_metrics, metric_classes
from paddlematting.metrics.segmentation import max_f_measure, s_measure


def test_scores_declare_their_direction():
    assert metric_classes()['mae'].lower_is_better
    assert not metric_classes()['maxf'].lower_is_better
    assert not metric_classes()['smeasure'].lower_is_better


def test_hand_computed_values():
    gt = np.array([[255, 0], [0, 0]], np.uint8)
    pred = np.array([[255, 128], [0, 0]], np.uint8)
    assert MAE().update(pred, gt) == pytest.approx(128 / 255 / 4)
    # threshold 255 keeps the true pixel only: P = R = 1; lower ones add the false one
    assert MaxFMeasure().update(pred, gt) == pytest.approx(1.0)
    half = np.array([[255, 255], [0, 0]], np.uint8)
    # P = 0.5, R = 1: F = 1.3 * 0.5 / (0.3 * 0.5 + 1)
    assert MaxFMeasure().update(half, gt) == pytest.approx(0.65 / 1.15)


def test_s_measure_of_empty_and_full_truths():
    pred = np.full((4, 4), 0.25)
    assert s_measure(pred, np.zeros((4, 4), bool)) == pytest.approx(0.75)
    assert s_measure(pred, np.ones((4, 4), bool)) == pytest.approx(0.25)
    assert max_f_measure(np.zeros((4, 4)), np.zeros((4, 4), bool)) == 0.0


def test_s_measure_object_and_region_terms_by_hand():
    """A perfect mask scores 1 (both terms 1); its inverse scores 0 (clamped)."""
    gt = np.zeros((8, 8), bool)
    gt[2:6, 3:7] = True
    assert s_measure(gt.astype(float), gt) == pytest.approx(1.0)
    assert s_measure(1.0 - gt, gt) == 0.0
    # a constant 0.5: object terms 2·0.5/(0.25 + 1) = 0.8; every region's SSIM is 0
    assert s_measure(np.full((8, 8), 0.5), gt) == pytest.approx(0.5 * 0.8)


def test_scores_order_a_real_matte_by_blur(real_data_root):
    path = sorted(glob.glob(os.path.join(real_data_root, 'val', 'alpha', '*.png')))[0]
    # binarised: max F and S-measure compare against a binary truth (a soft matte as its
    # own prediction scores S = 0.992)
    gt = np.where(cv2.imread(path, cv2.IMREAD_GRAYSCALE) > 127, 255, 0).astype(np.uint8)
    perfect = {name: m.update(gt, gt) for name, m in build_metrics(['mae', 'maxf', 'smeasure']).items()}
    assert perfect == {'mae': 0.0, 'maxf': pytest.approx(1.0), 'smeasure': pytest.approx(1.0)}
    series = {name: [] for name in perfect}
    for sigma in (2.0, 6.0, 12.0):
        blurred = cv2.GaussianBlur(gt, (0, 0), sigma)
        for name, metric in build_metrics(list(perfect)).items():
            series[name].append(metric.update(blurred, gt))
    assert 0 < series['mae'][0] < series['mae'][1] < series['mae'][2]
    for name in ('maxf', 'smeasure'):
        assert 1 > series[name][0] > series[name][1] > series[name][2], (name, series[name])

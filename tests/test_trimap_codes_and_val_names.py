"""Trimaps coded as labels 0/1/2 are read as background/unknown/foreground, other all-dark
encodings are refused, val reports (and does not score) trimaps without an unknown region,
and val result names never collide."""
import os

import cv2
import numpy as np
import pytest

from paddlematting.engine.evaluator import PER_IMAGE_CSV, evaluate
from paddlematting.datasets import MattingDataset
from paddlematting.transforms import LoadImages, Normalize
from paddlematting.utils.image_io import as_trimap_uint8, read_alpha, read_trimap
from paddlematting.engine.evaluator import EvalOptions


def _labels():
    labels = np.zeros((6, 9), np.uint8)
    labels[:, 3:6] = 1
    labels[:, 6:] = 2
    return labels


@pytest.mark.parametrize('dtype', [np.uint8, np.uint16])
def test_label_trimaps_read_as_background_unknown_foreground(tmp_path, dtype):
    path = str(tmp_path / 't.png')
    cv2.imwrite(path, _labels().astype(dtype))
    trimap = read_trimap(path)
    assert trimap[0].tolist() == [0] * 3 + [128] * 3 + [255] * 3


def test_gray_trimaps_still_snap_by_thirds():
    gray = np.array([[0, 40, 127, 128, 200, 255]], np.uint8)
    assert as_trimap_uint8(gray).tolist() == [[0, 0, 128, 128, 255, 255]]
    assert as_trimap_uint8(np.zeros((3, 3), np.uint8)).max() == 0  # all background is fine


@pytest.mark.parametrize('values', [(0, 1, 3), (0, 40), (5,)])
def test_other_all_dark_encodings_are_refused(values):
    gray = np.array([values], np.uint8)
    with pytest.raises(ValueError, match=r'neither a gray-level trimap .* nor a label trimap'):
        as_trimap_uint8(gray, 'my_trimap.png')


def _write_set(root, names, trimaps):
    for folder in ('fg', 'alpha', 'trimap'):
        (root / folder).mkdir(parents=True, exist_ok=True)
    alpha = np.zeros((12, 12), np.uint8)
    alpha[:, 6:] = 255
    lines = []
    for name, trimap in zip(names, trimaps):
        # alpha and trimap: the foreground's own name in their folders (x.jpg too)
        cv2.imwrite(str(root / 'fg' / name), np.full((12, 12, 3), 120, np.uint8))
        cv2.imwrite(str(root / 'alpha' / name), alpha)
        cv2.imwrite(str(root / 'trimap' / name), trimap)
        lines.append(f'fg/{name}')
    (root / 'val.txt').write_text('\n'.join(lines) + '\n')
    return MattingDataset(str(root), transforms=[LoadImages(), Normalize()], mode='val',
                          val_file='val.txt', get_trimap=True)


def _zero_runner(img, trimap):
    return np.zeros((img.shape[0], 1) + img.shape[2:], np.float32)


def test_dim_on_label_trimaps_is_not_scored_perfect(tmp_path):
    labels = np.zeros((12, 12), np.uint8)
    labels[:, 4:8] = 1
    labels[:, 8:] = 2
    dataset = _write_set(tmp_path / 'data', ['a.png'], [labels])
    result = evaluate(_zero_runner, dataset, EvalOptions(metric_names=['sad'], show_progress=False))
    assert result.metrics['sad'] > 0  # the unknown band is scored, and a zero alpha is wrong there
    assert not result.unscored


def test_an_empty_unknown_region_is_reported_not_scored(tmp_path, caplog):
    band = np.zeros((12, 12), np.uint8)
    band[:, 4:8] = 128
    band[:, 8:] = 255
    empty = np.zeros((12, 12), np.uint8)
    empty[:, 6:] = 255
    dataset = _write_set(tmp_path / 'data', ['a.png', 'b.png'], [band, empty])
    out = tmp_path / 'out'
    with caplog.at_level('WARNING'):
        result = evaluate(_zero_runner, dataset,
                          EvalOptions(metric_names=['sad'], save_dir=str(out), show_progress=False))
    assert result.unscored == ['fg/b.png']
    assert np.isnan(result.per_image[1]['sad']) and result.metrics['sad'] == result.per_image[0]['sad']
    assert 'no unknown region' in caplog.text and 'fg/b.png' in caplog.text
    assert 'nan' in (out / PER_IMAGE_CSV).read_text()
    only_empty = _write_set(tmp_path / 'only', ['b.png'], [empty])
    with pytest.raises(ValueError, match='No val image can be scored'):
        evaluate(_zero_runner, only_empty, EvalOptions(metric_names=['sad'], show_progress=False))


def test_val_results_of_x_png_and_x_jpg_do_not_overwrite_each_other(tmp_path):
    band = np.zeros((12, 12), np.uint8)
    band[:, 4:8] = 128
    dataset = _write_set(tmp_path / 'data', ['x.png', 'x.jpg'], [band, band])
    values = iter([0.25, 0.75])

    def runner(img, trimap):
        return np.full((img.shape[0], 1) + img.shape[2:], next(values), np.float32)

    out = tmp_path / 'out'
    evaluate(runner, dataset,
             EvalOptions(metric_names=['sad'], save_dir=str(out), save_results=True,
                         show_progress=False))
    first, second = read_alpha(str(out / 'fg' / 'x.png')), read_alpha(str(out / 'fg' / 'x.jpg.png'))
    assert first[0, 5] == 64 and second[0, 5] == 191
    assert sorted(os.listdir(out / 'fg')) == ['x.jpg.png', 'x.png']

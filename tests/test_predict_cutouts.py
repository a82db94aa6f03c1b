"""Cut-outs carry estimated foreground colours: predict's RGBA and composite, val's saved
composites, the demo picture. Checked on a composite whose true foreground is known."""
import os

import cv2
import numpy as np
import pytest

from conftest import REAL_DATA_ROOT, REPO_ROOT
from paddlematting.engine.evaluator import evaluate
from paddlematting.predict.input_collection import collect_inputs
from paddlematting.predict.images import predict_images
from paddlematting.pipeline.outputs import composite, cutout_foreground
from paddlematting.predict.visualization import matting_showcase
from paddlematting.datasets import MattingDataset
from paddlematting.transforms import LoadImages, Normalize
from paddlematting.utils.image_io import read_alpha, read_image, write_png
from paddlematting.engine.evaluator import EvalOptions
from paddlematting.pipeline.outputs import OutputOptions
from paddlematting.predict import PredictOptions

SIZE = (200, 138)  # (w, h): GT05's aspect, small enough for a quick test


def _rgb(rel):
    return cv2.resize(cv2.cvtColor(cv2.imread(os.path.join(REAL_DATA_ROOT, rel)), cv2.COLOR_BGR2RGB),
                      SIZE, interpolation=cv2.INTER_AREA)


@pytest.fixture
def known_composite(tmp_path):
    """Image I = a F + (1 - a) B (uint8) written to tmp_path/in/p.png; returns (I, alpha, F)."""
    alpha = cv2.resize(cv2.imread(os.path.join(REAL_DATA_ROOT, 'val', 'alpha', 'GT05.png'),
                                  cv2.IMREAD_GRAYSCALE), SIZE, interpolation=cv2.INTER_AREA)
    fg, bg = _rgb('val/fg/GT20.png'), _rgb('bg/rocket.jpg')
    a = alpha[:, :, None] / 255.0
    image = np.rint(a * fg + (1 - a) * bg).astype(np.uint8)
    write_png(str(tmp_path / 'in' / 'p.png'), image)
    return image, alpha, fg


def _oracle_runner(alpha):
    """A runner that returns the true alpha (the transforms below keep the image size)."""
    def run(img, trimap):
        assert img.shape[2:] == alpha.shape
        return (alpha / 255.0).astype(np.float32)[None, None]
    return run


def _soft_error(colours, true_fg, alpha):
    soft = (alpha > 0) & (alpha < 255)
    return float(np.abs(colours[soft].astype(float) - true_fg[soft]).mean())


@pytest.mark.parametrize('fg_method', ['blur_fusion', 'multilevel'])
def test_predict_rgba_and_composite_use_the_estimated_foreground(tmp_path, known_composite, fg_method):
    image, alpha, true_fg = known_composite
    new_bg = np.zeros((1, 1, 3), np.uint8)
    new_bg[...] = (0, 177, 64)
    result = predict_images(_oracle_runner(alpha), [LoadImages(), Normalize()],
                            collect_inputs(str(tmp_path / 'in')), str(tmp_path / 'out'),
                            PredictOptions(OutputOptions(background=new_bg, fg_method=fg_method),
                                           show_progress=False))
    assert not result.failed
    rgba = cv2.imread(str(tmp_path / 'out' / 'p_rgba.png'), cv2.IMREAD_UNCHANGED)[:, :, [2, 1, 0, 3]]
    np.testing.assert_array_equal(rgba[:, :, 3], alpha)
    estimated = cutout_foreground(image, alpha, fg_method)
    np.testing.assert_array_equal(rgba[:, :, :3], estimated)
    # the colours moved towards the true foreground, away from the photo's mix with B
    assert _soft_error(estimated, true_fg, alpha) < 0.6 * _soft_error(image, true_fg, alpha)
    written = read_image(str(tmp_path / 'out' / 'p_composite.png'))
    np.testing.assert_array_equal(written, composite(estimated, alpha, new_bg))
    # ... and so the composite is closer to the true one on the new background
    truth = composite(true_fg, alpha, new_bg)
    assert (np.abs(written.astype(int) - truth).mean()
            < 0.6 * np.abs(composite(image, alpha, new_bg).astype(int) - truth).mean())


def test_fg_method_none_keeps_the_photo_colours(tmp_path, known_composite):
    image, alpha, _ = known_composite
    predict_images(_oracle_runner(alpha), [LoadImages(), Normalize()],
                   collect_inputs(str(tmp_path / 'in')), str(tmp_path / 'out'),
                   PredictOptions(outputs=OutputOptions(fg_method='none'), show_progress=False))
    rgba = cv2.imread(str(tmp_path / 'out' / 'p_rgba.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(rgba[:, :, 2::-1], image)
    with pytest.raises(ValueError, match='fg_method must be one of'):
        cutout_foreground(image, alpha, 'poisson')


def test_val_saved_composites_use_the_estimated_foreground(tmp_path, known_composite):
    image, alpha, _ = known_composite
    root = tmp_path / 'data'
    write_png(str(root / 'val' / 'fg' / 'p.png'), image)
    write_png(str(root / 'val' / 'alpha' / 'p.png'), alpha)
    (root / 'val.txt').write_text('val/fg/p.png\n')
    dataset = MattingDataset(str(root), [LoadImages(), Normalize()], mode='val', val_file='val.txt',
                             get_trimap=False)
    background = np.full((4, 4, 3), 255, np.uint8)
    out = tmp_path / 'out'
    evaluate(_oracle_runner(alpha), dataset,
             EvalOptions(metric_names=['sad'], save_dir=str(out), save_results=True,
                         show_progress=False, background=background))
    written = read_image(str(out / 'val' / 'fg' / 'p_composite.png'))
    saved_alpha = read_alpha(str(out / 'val' / 'fg' / 'p.png'))
    np.testing.assert_array_equal(saved_alpha, alpha)
    np.testing.assert_array_equal(written, composite(cutout_foreground(image, alpha), alpha, background))
    assert not np.array_equal(written, composite(image, alpha, background))


def test_showcase_cutout_uses_the_estimated_foreground(known_composite):
    image, alpha, _ = known_composite
    background = np.zeros((2, 2, 3), np.uint8)
    picture = matting_showcase(image, alpha, background)
    w = image.shape[1]
    np.testing.assert_array_equal(picture[:, 2 * w + 16:],
                                  composite(cutout_foreground(image, alpha), alpha, background))


def test_labelled_rows_stack_into_one_picture():
    from paddlematting.predict.visualization import labelled, stacked
    row = labelled(np.zeros((20, 300, 3), np.uint8), 'a label')
    assert row.shape == (60, 300, 3) and row[:40].min() == 0 and row[:40].max() == 255  # black text on white
    picture = stacked([row, row])
    assert picture.shape == (128, 300, 3) and np.all(picture[60:68] == 255)
    with pytest.raises(ValueError, match='one width'):
        stacked([row, row[:, :10]])


def test_demo_says_in_one_line_that_offline_it_skips_the_published_weights(monkeypatch, capsys):
    import importlib.util
    from paddlematting.utils.download import DownloadError
    spec = importlib.util.spec_from_file_location('run_demo', os.path.join(REPO_ROOT, 'tools', 'run_demo.py'))
    run_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_demo)

    def offline(*args, **kwargs):
        raise DownloadError('no network')

    monkeypatch.setattr(run_demo, 'cached_download', offline)
    assert run_demo._published_weights() is None
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith('Offline: skipped the published MODNet weights')

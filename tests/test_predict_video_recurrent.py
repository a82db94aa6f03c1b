"""Videos through a recurrent model (RVM): the state is carried frame to frame and is fresh for
each clip, in dygraph and through the exported model; predict.py writes the videos."""
import os

import numpy as np
import pytest

from conftest import REAL_DATA_ROOT
from paddlematting.builders.dataset import build_transforms
from paddlematting.cli import predict as predict_cli
from paddlematting.pipeline.runner import clip_runner, dygraph_runner
from paddlematting.inference import ExportOptions, Predictor, export_model
from paddlematting.pipeline.prediction import predict_alpha
from paddlematting.utils.image_io import read_image
from test_models_rvm import CONFIG, _reference_model
from test_video import HEIGHT, PHOTOS, WIDTH, decoded, make_clip

TRANSFORMS = [{'type': 'LoadImages', 'to_rgb': True},
              {'type': 'Normalize', 'mean': [0, 0, 0], 'std': [1, 1, 1]}]


def _frames(n=3):
    import cv2
    return [cv2.resize(read_image(os.path.join(REAL_DATA_ROOT, 'val', 'fg', name + '.png')),
                       (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA) for name in PHOTOS[:n]]


def _carried(model, frames, prepare):
    """The reference sequence: reset, then every frame with the state kept on the model."""
    model.reset()
    run = dygraph_runner(model, carry_state=True)
    return [predict_alpha(run, frame, None, prepare) for frame in frames]


def test_clip_runner_carries_the_state_and_starts_each_clip_fresh(shared_reference, det_weights):
    model = _reference_model(shared_reference, det_weights)
    prepare = build_transforms(TRANSFORMS)
    frames = _frames()
    expected = _carried(model, frames, prepare)
    runner = dygraph_runner(model)
    for _ in range(2):  # two clips: the second starts from a fresh state too
        clip = clip_runner(runner)
        got = [predict_alpha(clip, frame, None, prepare) for frame in frames]
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)
    # the state matters: frame 2 alone (no history) is another matte
    alone = predict_alpha(runner, frames[2], None, prepare)
    assert np.abs(alone - expected[2]).max() > 1e-3
    # images between clips are still independent (the plain runner resets per call)
    np.testing.assert_array_equal(predict_alpha(runner, frames[2], None, prepare), alone)


def test_exported_model_carries_the_state_per_clip(shared_reference, det_weights, tmp_path):
    model = _reference_model(shared_reference, det_weights)
    prepare = build_transforms(TRANSFORMS)
    frames = _frames()
    expected = _carried(model, frames, prepare)
    folder = export_model(model, str(tmp_path / 'rvm'), TRANSFORMS, ExportOptions(onnx=False))
    predictor = Predictor(folder, device='cpu')
    for _ in range(2):
        clip = clip_runner(predictor)
        for frame, e in zip(frames, expected):
            np.testing.assert_allclose(predict_alpha(clip, frame, None, prepare), e, atol=1e-4)
    assert predictor.carry_state is False  # the clip's copy carried, not the shared predictor


def test_predict_cli_writes_rvm_videos_with_the_state_carried(tmp_path):
    os.makedirs(tmp_path / 'in')
    make_clip(tmp_path / 'in' / 'clip.mp4', PHOTOS[:3])
    status = predict_cli.main(['--config', CONFIG, '--device', 'cpu', '--backend', 'dygraph',
                               '--image_path', str(tmp_path / 'in' / 'clip.mp4'),
                               '--save_dir', str(tmp_path / 'out'), '--background', '#00b140'])
    assert status == 0
    fps, frames = decoded(tmp_path / 'in' / 'clip.mp4')
    for name in ('clip_alpha.mp4', 'clip_composite.mp4'):
        out_fps, out_frames = decoded(tmp_path / 'out' / name)
        assert out_fps == pytest.approx(fps) and len(out_frames) == len(frames) == 3
        assert out_frames[0].shape == (HEIGHT, WIDTH, 3)

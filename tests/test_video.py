"""Video prediction: a clip built from the shipped photos with OpenCV goes through
predict_images / predict.py; outputs keep fps, size and frame count, and every alpha frame
matches the single-image prediction of that frame within the codec's tolerance."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import core_plugin  # noqa: F401  (registers CoreTestNet for the CLI check)
from conftest import REAL_DATA_ROOT, REPO_ROOT, TEST_DATA_DIR
from paddlematting.predict.input_collection import collect_inputs
from paddlematting.predict.images import predict_images
from paddlematting.pipeline.outputs import composite, cutout_foreground
from paddlematting.transforms import Compose, LoadImages, Normalize, ResizeByShort, ResizeToIntMult
from paddlematting.pipeline.prediction import predict_alpha
from paddlematting.video import OneFrameDelay, VideoReader, VideoWriter
from paddlematting.pipeline.outputs import OutputOptions
from paddlematting.predict import PredictOptions
from paddlematting.predict.output_record import RECORD_NAME

FPS, WIDTH, HEIGHT = 7.0, 192, 128
PHOTOS = ['GT05', 'GT11', 'GT14', 'GT19', 'GT20', 'GT24']
# the model sees a resized copy (as real configs do), so restoring is part of the round trip
TRANSFORMS = [LoadImages(), ResizeByShort(64), ResizeToIntMult(32), Normalize()]
# MPEG-4 Part 2 at OpenCV's default quality: mean |error| of a decoded 8-bit frame (measured
# about 3 on these detailed 192x128 mattes)
CODEC_MEAN_TOLERANCE = 4.0


def brightness_runner(img, trimap):
    """A deterministic 'model': alpha from the brightness of the (normalised) image."""
    grey = img.mean(axis=1, keepdims=True) * 0.5 + 0.5
    return np.clip((grey - 0.25) * 2.0, 0, 1).astype(np.float32)


def make_clip(path, photos=PHOTOS):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), FPS, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for name in photos:
        photo = cv2.imread(os.path.join(REAL_DATA_ROOT, 'val', 'fg', name + '.png'))
        writer.write(cv2.resize(photo, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA))
    writer.release()


def decoded(path):
    """(fps, RGB frames) of a video as OpenCV decodes it."""
    with VideoReader(str(path)) as reader:
        return reader.fps, list(reader)


def single_image_alphas(frames):
    prepare = Compose(list(TRANSFORMS))
    return [np.rint(predict_alpha(brightness_runner, frame, None, prepare) * 255) for frame in frames]


@pytest.fixture
def clip_dir(tmp_path):
    os.makedirs(tmp_path / 'in')
    make_clip(tmp_path / 'in' / 'clip.mp4')
    return tmp_path


def test_video_round_trip_matches_single_image_predictions(clip_dir):
    background = np.zeros((1, 1, 3), np.uint8)
    background[...] = (0, 177, 64)
    (clip_dir / 'in' / 'broken.mp4').write_bytes(b'this is not a video')
    write_ok = cv2.imwrite(str(clip_dir / 'in' / 'still.png'), np.full((40, 60, 3), 90, np.uint8))
    assert write_ok
    result = predict_images(brightness_runner, TRANSFORMS, collect_inputs(str(clip_dir / 'in')),
                            str(clip_dir / 'out'),
                            PredictOptions(outputs=OutputOptions(background=background),
                                           show_progress=False))
    # the undecodable file fails with a clear reason; the clip and the still image finish
    assert [os.path.basename(p) for p, _ in result.failed] == ['broken.mp4']
    assert 'cannot decode' in result.failed[0][1]
    out = clip_dir / 'out'
    assert sorted(os.listdir(out)) == [RECORD_NAME, 'clip_alpha.mp4', 'clip_composite.mp4',
                                       'still_alpha.png', 'still_composite.png', 'still_rgba.png']

    fps, frames = decoded(clip_dir / 'in' / 'clip.mp4')
    expected = single_image_alphas(frames)
    alpha_fps, alpha_frames = decoded(out / 'clip_alpha.mp4')
    assert alpha_fps == pytest.approx(fps) and len(alpha_frames) == len(frames) == len(PHOTOS)
    for i, (got, want) in enumerate(zip(alpha_frames, expected)):
        assert got.shape == (HEIGHT, WIDTH, 3)
        # grey (YUV -> RGB decoding may round the channels apart by one or two)
        assert np.abs(got[:, :, 0].astype(int) - got[:, :, 2]).max() <= 2
        error = np.abs(got[:, :, 0].astype(float) - want).mean()
        assert error < CODEC_MEAN_TOLERANCE, (i, error)
        # the frames are in order: another frame's matte is far off
        other = expected[(i + 1) % len(expected)]
        assert np.abs(got[:, :, 0].astype(float) - other).mean() > 5 * CODEC_MEAN_TOLERANCE

    _, composites = decoded(out / 'clip_composite.mp4')
    assert len(composites) == len(frames)
    for frame, want_alpha, got in zip(frames, expected, composites):
        want_alpha = want_alpha.astype(np.uint8)
        want = composite(cutout_foreground(frame, want_alpha), want_alpha, background)
        assert np.abs(got.astype(float) - want).mean() < 2 * CODEC_MEAN_TOLERANCE


def test_one_frame_delay_option_filters_the_written_mattes(clip_dir):
    result = predict_images(brightness_runner, TRANSFORMS, collect_inputs(str(clip_dir / 'in')),
                            str(clip_dir / 'out'),
                            PredictOptions(show_progress=False, temporal_ofd=True))
    assert not result.failed
    _, frames = decoded(clip_dir / 'in' / 'clip.mp4')
    ofd = OneFrameDelay()
    expected = [out for a in single_image_alphas(frames) for out in ofd.push(a / 255.0)] + ofd.flush()
    _, alpha_frames = decoded(clip_dir / 'out' / 'clip_alpha.mp4')
    assert len(alpha_frames) == len(expected) == len(PHOTOS)
    for got, want in zip(alpha_frames, expected):
        assert np.abs(got[:, :, 0] - np.rint(want * 255)).mean() < CODEC_MEAN_TOLERANCE


def test_one_frame_delay_hand_computed():
    ofd = OneFrameDelay(threshold=0.1)
    frames = [np.array([[0.2, 0.5]]), np.array([[0.9, 0.55]]), np.array([[0.25, 0.6]]), np.array([[0.3, 0.0]])]
    out = [o for f in frames for o in ofd.push(f)] + ofd.flush()
    assert len(out) == 4
    np.testing.assert_allclose(out[0], frames[0])
    # pixel 0 of frame 1 jumps to 0.9 while its neighbours agree (0.2, 0.25): their mean;
    # pixel 1 moves smoothly and stays
    np.testing.assert_allclose(out[1], [[0.225, 0.55]], atol=1e-6)
    # frame 2, pixel 1: neighbours 0.55 and 0.0 disagree, so no change
    np.testing.assert_allclose(out[2], frames[2], atol=1e-6)
    np.testing.assert_allclose(out[3], frames[3])


def test_writer_renames_only_when_complete(tmp_path):
    target = tmp_path / 'a.mp4'
    with pytest.raises(RuntimeError):
        with VideoWriter(str(target), 5, 32, 16) as writer:
            writer.write(np.zeros((16, 32), np.uint8))
            raise RuntimeError('stop')
    assert os.listdir(tmp_path) == []
    with VideoWriter(str(target), 5, 32, 16) as writer:
        for value in (0, 128, 255):
            writer.write(np.full((16, 32, 3), value, np.uint8))
        with pytest.raises(ValueError, match='frame of size'):
            writer.write(np.zeros((8, 8, 3), np.uint8))
        assert not target.exists()
    assert os.listdir(tmp_path) == ['a.mp4'] and len(decoded(target)[1]) == 3


def test_predict_cli_takes_a_video_and_says_audio_is_dropped(clip_dir):
    config = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.path.join(REPO_ROOT, 'tests')]))
    code = ('import sys, core_plugin; from paddlematting.cli import predict; '
            'sys.exit(predict.main(sys.argv[1:]))')
    done = subprocess.run([sys.executable, '-c', code, '--config', config, '--device', 'cpu',
                           '--backend', 'dygraph', '--allow_random_weights',
                           '--image_path', str(clip_dir / 'in' / 'clip.mp4'),
                           '--save_dir', str(clip_dir / 'out'), '--background', '#ffffff', '--temporal_ofd'],
                          capture_output=True, text=True, env=env, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ('clip_alpha.mp4', 'clip_composite.mp4'):
        fps, frames = decoded(clip_dir / 'out' / name)
        assert fps == pytest.approx(FPS) and len(frames) == len(PHOTOS)
        assert frames[0].shape == (HEIGHT, WIDTH, 3)
    helptext = subprocess.run([sys.executable, os.path.join(REPO_ROOT, 'predict.py'), '--help'],
                              capture_output=True, text=True, env=env, timeout=120).stdout
    assert 'audio' in helptext and '--temporal_ofd' in helptext and '.mp4' in helptext

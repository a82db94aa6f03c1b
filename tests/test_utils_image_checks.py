"""Truncated JPEG and PNG files, and JPEGs libjpeg calls corrupt, are detected and reported
as failed, not decoded silently."""
import os

import cv2
import numpy as np
import pytest

from paddlematting.predict.input_collection import collect_inputs
from paddlematting.predict.images import predict_images
from paddlematting.transforms import LoadImages, Normalize
from paddlematting.utils import image_checks
from paddlematting.utils.image_checks import CorruptImageError, TruncatedImageError
from paddlematting.utils.image_io import read_image
from paddlematting.predict import PredictOptions


def _photo():
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8), (5, 5), 2)


@pytest.mark.parametrize('ext', ['.jpg', '.png'])
def test_truncated_files_are_refused(tmp_path, ext):
    ok, encoded = cv2.imencode(ext, _photo())
    data = encoded.tobytes()
    path = tmp_path / f'cut{ext}'
    path.write_bytes(data[:len(data) * 2 // 3])
    # OpenCV 4 returns a gray-filled picture for the cut JPEG (OpenCV 5 returns None): the
    # check does not depend on the decoder and says what is wrong
    with pytest.raises(TruncatedImageError, match=f'cut{ext}.*truncated'):
        read_image(str(path))


def test_complete_files_with_trailing_bytes_or_a_thumbnail_marker_still_read(tmp_path):
    ok, encoded = cv2.imencode('.jpg', _photo())
    data = encoded.tobytes()
    (tmp_path / 'tail.jpg').write_bytes(data + b'\x00' * 16)
    assert read_image(str(tmp_path / 'tail.jpg')).shape == (64, 80, 3)
    # an EOI marker early in the file (as an EXIF thumbnail has) does not hide truncation
    cut = data[:2] + b'\xff\xd9' + data[2:len(data) // 2]
    (tmp_path / 'thumb.jpg').write_bytes(cut)
    with pytest.raises(TruncatedImageError):
        read_image(str(tmp_path / 'thumb.jpg'))


def test_predict_reports_a_truncated_photo_as_failed(tmp_path):
    ok, encoded = cv2.imencode('.jpg', _photo())
    (tmp_path / 'in').mkdir()
    (tmp_path / 'in' / 'cut.jpg').write_bytes(encoded.tobytes()[:800])
    result = predict_images(lambda img, tri: np.zeros((img.shape[0], 1) + img.shape[2:], 'float32'),
                            [LoadImages(), Normalize()], collect_inputs(str(tmp_path / 'in')),
                            str(tmp_path / 'out'), PredictOptions(show_progress=False))
    assert result.written == [] and len(result.failed) == 1
    assert 'truncated' in result.failed[0][1]


def _cut_with_eoi(tmp_path, progressive=False):
    """A JPEG cut at half its length and given an EOI marker again: it passes the marker
    check, and OpenCV decodes it (the lower half gray) with only a libjpeg warning."""
    params = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if progressive else []
    ok, encoded = cv2.imencode('.jpg', _photo(), params)
    data = encoded.tobytes()
    path = tmp_path / ('progressive.jpg' if progressive else 'cut_eoi.jpg')
    path.write_bytes(data[:len(data) // 2] + b'\xff\xd9')
    assert cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR) is not None
    return path


@pytest.mark.parametrize('progressive', [False, True], ids=['baseline', 'progressive'])
def test_a_cut_jpeg_ending_in_eoi_is_refused_naming_the_file(tmp_path, capfd, progressive):
    path = _cut_with_eoi(tmp_path, progressive)
    assert 'Corrupt JPEG data' in capfd.readouterr().err  # what plain OpenCV prints, and decodes
    with pytest.raises(CorruptImageError) as info:
        read_image(str(path))
    message = str(info.value)
    assert message.startswith(str(path)) and 'Corrupt JPEG data' in message and '\n' not in message
    assert 'Corrupt JPEG' not in capfd.readouterr().err  # the warning became the error


def test_intact_jpegs_decode_silently_and_other_output_is_passed_on(tmp_path, capfd, monkeypatch):
    ok, encoded = cv2.imencode('.jpg', _photo())
    (tmp_path / 'ok.jpg').write_bytes(encoded.tobytes())
    expected = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(read_image(str(tmp_path / 'ok.jpg')), expected)
    assert capfd.readouterr().err == ''
    real_decode = image_checks.cv2.imdecode

    def noisy_decode(data, flags):  # another thread or library printing meanwhile
        os.write(2, b'a line from someone else\n')
        return real_decode(data, flags)

    monkeypatch.setattr(image_checks.cv2, 'imdecode', noisy_decode)
    np.testing.assert_array_equal(read_image(str(tmp_path / 'ok.jpg')), expected)
    assert capfd.readouterr().err == 'a line from someone else\n'


def test_predict_reports_a_damaged_photo_as_failed(tmp_path):
    (tmp_path / 'in').mkdir()
    _cut_with_eoi(tmp_path / 'in')
    result = predict_images(lambda img, tri: np.zeros((img.shape[0], 1) + img.shape[2:], 'float32'),
                            [LoadImages(), Normalize()], collect_inputs(str(tmp_path / 'in')),
                            str(tmp_path / 'out'), PredictOptions(show_progress=False))
    assert result.written == [] and len(result.failed) == 1
    assert 'Corrupt JPEG data' in result.failed[0][1]

"""Truncated JPEG and PNG files are detected and reported as failed, not decoded silently."""
import cv2
import numpy as np
import pytest

from paddlematting.predict.input_collection import collect_inputs
from paddlematting.predict.images import predict_images
from paddlematting.transforms import LoadImages, Normalize
from paddlematting.utils.image_checks import TruncatedImageError
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

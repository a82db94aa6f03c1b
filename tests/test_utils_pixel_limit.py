"""The input pixel cap (utils.pixel_limit): sizes read from headers equal the decoded sizes;
a photo over the cap is refused before it is decoded, with one line naming the file, its size,
the cap and the flag, through read_image, the one-call API, predict.py and paddlematting remove;
the flag and $PADDLEMATTING_MAX_PIXELS move the cap."""
import io
import os
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting.api import Matting, MattingSettings
from paddlematting.cli import predict as predict_cli
from paddlematting.cli import remove as remove_cli
from paddlematting.utils import image_io
from paddlematting.utils.image_io import read_image, write_png
from paddlematting.utils.pixel_limit import (DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, TooManyPixelsError,
                                             default_max_pixels, header_size)

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
SIZE = (37, 23)  # width, height: odd, unequal sides catch a swapped pair


def _encoded(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    options = {'progressive': True} if fmt == 'JPEG-progressive' else {}
    Image.fromarray(rgb).save(buffer, format=fmt.split('-')[0], **options)
    return buffer.getvalue()


@pytest.mark.parametrize('fmt', ['PNG', 'JPEG', 'JPEG-progressive', 'BMP', 'GIF', 'WEBP'])
def test_the_header_gives_the_decoded_size(fmt):
    data = _encoded(fmt)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert header_size(data) == SIZE == (decoded.shape[1], decoded.shape[0])


def test_lossless_webp_and_exif_jpeg_headers():
    rgb = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    ok, lossless = cv2.imencode('.webp', rgb, [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok and header_size(lossless.tobytes()) == SIZE
    buffer = io.BytesIO()  # an EXIF segment before the frame header is walked over
    Image.fromarray(rgb).save(buffer, format='JPEG', exif=b'Exif\x00\x00' + bytes(4000))
    assert header_size(buffer.getvalue()) == SIZE
    assert header_size(b'II*\x00' + bytes(100)) is None  # TIFF: checked once decoded


def _png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose IHDR (CRC fixed) claims ``width`` x ``height``: what a crafted
    upload looks like; decoding it would fail or allocate the claimed size."""
    data = bytearray(_encoded('PNG'))
    data[16:24] = struct.pack('>II', width, height)
    data[29:33] = struct.pack('>I', zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_a_claimed_200_megapixels_is_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / 'huge.png'
    path.write_bytes(_png_claiming(20000, 10000))

    def no_decode(*args, **kwargs):
        raise AssertionError('a photo over the cap must not be decoded')

    monkeypatch.setattr(image_io, 'decode_image', no_decode)
    with pytest.raises(TooManyPixelsError) as caught:
        read_image(str(path))
    message = str(caught.value)
    assert message.startswith(f'{path}: the image is 20000x10000 (200.0 megapixels), over the '
                              f'limit of 100 megapixels; raise the limit with --max_pixels N')
    assert '\n' not in message and MAX_PIXELS_ENV in message
    # exactly at the cap passes the check (and reaches the decoder)
    with pytest.raises(AssertionError, match='must not be decoded'):
        read_image(str(path), max_pixels=200_000_000)


def test_a_format_without_a_header_reader_is_checked_once_decoded(tmp_path):
    ok, tiff = cv2.imencode('.tiff', np.zeros((SIZE[1], SIZE[0], 3), np.uint8))
    path = tmp_path / 'x.tiff'
    path.write_bytes(tiff.tobytes())
    assert read_image(str(path), max_pixels=SIZE[0] * SIZE[1]).shape == (SIZE[1], SIZE[0], 3)
    with pytest.raises(TooManyPixelsError, match=r'x.tiff: the image is 37x23 \(0.0 megapixels\)'):
        read_image(str(path), max_pixels=SIZE[0] * SIZE[1] - 1)


def test_the_environment_moves_the_default_and_a_bad_value_is_one_line(monkeypatch):
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    assert default_max_pixels() == DEFAULT_MAX_PIXELS == 100_000_000
    monkeypatch.setenv(MAX_PIXELS_ENV, '200_000_000')
    assert default_max_pixels() == 200_000_000
    for bad in ('lots', '0', '-5'):
        monkeypatch.setenv(MAX_PIXELS_ENV, bad)
        with pytest.raises(ValueError, match=f'^{MAX_PIXELS_ENV}=.*expected a positive whole number'):
            default_max_pixels()


def test_the_api_refuses_every_input_type_over_its_cap():
    matting = Matting(refiner='closed-form', settings=MattingSettings(max_pixels=SIZE[0] * SIZE[1] - 1))
    rgb = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    for image, source in ((rgb, 'image array'), (Image.fromarray(rgb), 'PIL image'),
                          (_encoded('PNG'), 'image bytes')):
        with pytest.raises(TooManyPixelsError, match=f'^{source}: the image is 37x23'):
            matting.remove(image, mask=mask)
    # one pixel more allowed: the same photo goes through, at its size
    roomy = Matting(refiner='closed-form', settings=MattingSettings(max_pixels=SIZE[0] * SIZE[1]))
    mask[5:15, 10:25] = 255
    assert roomy.remove(rgb, mask=mask).shape == (SIZE[1], SIZE[0], 4)


def test_predict_fails_the_large_photo_alone_with_one_line(tmp_path, records):
    write_png(str(tmp_path / 'in' / 'small.png'), np.full((16, 16, 3), 50, np.uint8))
    write_png(str(tmp_path / 'in' / 'large.png'), np.full((16, 40, 3), 50, np.uint8))
    code = predict_cli.main(['--config', TINY_CONFIG, '--device', 'cpu', '--backend', 'dygraph',
                             '--allow_random_weights', '--image_path', str(tmp_path / 'in'),
                             '--save_dir', str(tmp_path / 'out'), '--max_pixels', '300'])
    assert code == 1
    assert os.path.isfile(tmp_path / 'out' / 'small_alpha.png')
    assert not os.path.exists(tmp_path / 'out' / 'large_alpha.png')
    errors = [m for m in records if m.startswith('Skipping') and 'large.png: the image is 40x16' in m]
    assert len(errors) == 1 and 'over the limit of 0.0003 megapixels' in errors[0]
    assert '\n' not in errors[0]


def test_remove_takes_both_spellings_of_the_flag(tmp_path, records):
    photo, mask = tmp_path / 'p.png', tmp_path / 'm.png'
    write_png(str(photo), np.full((20, 30, 3), 90, np.uint8))
    write_png(str(mask), np.pad(np.full((10, 20), 255, np.uint8), 5))
    base = [str(photo), str(tmp_path / 'out.png'), '--refiner', 'closed-form', '--mask', str(mask)]
    assert remove_cli.main(base + ['--max-pixels', '599']) == 2
    assert any('p.png: the image is 30x20 (0.0 megapixels), over the limit' in m for m in records)
    assert not (tmp_path / 'out.png').exists()
    assert remove_cli.main(base + ['--max_pixels', '600']) == 0
    assert cv2.imread(str(tmp_path / 'out.png'), cv2.IMREAD_UNCHANGED).shape == (20, 30, 4)

"""The server's parts in process, without a model: the SSRF guard's address classes, the
bounded queue, a client that left before inference (dropped, never run), the limits the
server passes to the one-call API, rembg's names, the settings' round trip to the worker
processes, and the command's one-line refusal of an unknown model."""
import asyncio

import cv2
import numpy as np
import pytest

from paddlematting.cli import serve as serve_cli
from paddlematting.serve.admission import RequestQueue
from paddlematting.serve.chain import decode_upload
from paddlematting.serve.errors import NotAnImageError, QueueFullError, ServeError, TooLargeError
from paddlematting.utils.image_checks import TruncatedImageError
from paddlematting.serve.params import RemoveParams
from paddlematting.serve.settings import SETTINGS_ENV, ServeSettings
from paddlematting.serve.url_fetch import check_public_address, fetch_image
from paddlematting.serve.errors import CLIENT_GONE
from paddlematting.serve.worker import Worker


@pytest.mark.parametrize('address, kind', [
    ('127.0.0.1', 'loopback'), ('127.8.9.10', 'loopback'), ('::1', 'loopback'),
    ('::ffff:127.0.0.1', 'loopback'), ('10.0.0.1', 'private'), ('172.16.5.4', 'private'),
    ('192.168.1.1', 'private'), ('fc00::1', 'private'), ('169.254.169.254', 'link-local'),
    ('fe80::1', 'link-local'), ('0.0.0.0', 'unspecified'), ('224.0.0.1', 'multicast'),
    ('100.64.0.1', 'non-global'),  # carrier-grade NAT: not private, not public either
])
def test_non_public_addresses_are_refused(address, kind):
    with pytest.raises(ServeError) as caught:
        check_public_address(address, 'example.test')
    assert caught.value.status == 403 and f'({kind} address)' in str(caught.value)


def test_public_addresses_pass_and_other_schemes_are_refused():
    for address in ('8.8.8.8', '2606:4700:4700::1111', '::ffff:1.1.1.1'):
        check_public_address(address, 'example.test')
    for url in ('file:///etc/passwd', 'ftp://example.com/x.png', 'gopher://x', 'http://user:pw@example.com/'):
        with pytest.raises(ServeError) as caught:
            fetch_image(url, 1000, 1.0)
        assert caught.value.status == 422


def test_queue_refuses_past_its_capacity_and_frees_slots():
    queue = RequestQueue(2)
    with queue.slot(), queue.slot():
        assert queue.depth == 2
        with pytest.raises(QueueFullError) as caught:
            with queue.slot():
                pass
        assert caught.value.status == 503 and caught.value.headers == {'Retry-After': '2'}
    assert queue.depth == 0
    queue.record(3.0)
    queue.record(5.0)
    assert queue.seconds_per_job == pytest.approx(4.0)


class _Models:
    """ServedModels' place in a Worker: counts the cut-outs it is asked for."""

    def __init__(self):
        self.calls = 0

    def cut_out(self, data, choice, timer):
        self.calls += 1
        return b'png'


class _Request:
    def __init__(self, gone):
        self.gone = gone

    async def is_disconnected(self):
        return self.gone


def test_a_client_that_left_is_dropped_before_inference():
    models = _Models()
    worker = Worker(ServeSettings(), models)
    try:
        gone = asyncio.run(worker.cut_out(_Request(True), b'...', None))
        assert gone.status_code == CLIENT_GONE and models.calls == 0
        assert worker.metrics.dropped.labels('client_disconnected')._value.get() == 1
        served = asyncio.run(worker.cut_out(_Request(False), b'...', None))
        assert served.status_code == 200 and served.body == b'png' and models.calls == 1
    finally:
        worker.stop()


def test_uploads_over_the_pixel_limit_are_refused_before_decoding():
    """A 3000x3000 PNG is a small file and 9 megapixels once decoded: refused from its header,
    with the exact figures; damaged and foreign bytes get their own statuses."""
    png = cv2.imencode('.png', np.zeros((3000, 3000), np.uint8))[1].tobytes()
    assert len(png) < 100_000
    with pytest.raises(TooLargeError) as caught:
        decode_upload(png, 1_000_000)
    assert caught.value.status == 413 and caught.value.fields == {'limit': 'max_pixels', 'value': 1_000_000}
    assert str(caught.value) == ('the image is 3000x3000 = 9,000,000 pixels, over the limit of '
                                 '1,000,000 pixels (--max-pixels)')
    assert decode_upload(png, 9_000_000).shape == (3000, 3000, 3)
    with pytest.raises(TruncatedImageError):
        decode_upload(png[:len(png) // 2], 9_000_000)
    with pytest.raises(NotAnImageError) as caught:
        decode_upload(b'not an image at all', 9_000_000)
    assert caught.value.status == 415 and 'cannot decode' in str(caught.value)


def test_rembg_names_map_onto_the_api_names():
    params = RemoveParams.model_validate({'om': 'true', 'bgc': '1,2,3,255', 'a': 'true', 'af': '240',
                                          'ab': '10', 'ae': '15', 'ppm': 'true', 'extras': '{}'})
    assert params.only_mask and params.bgcolor == '1,2,3' and params.alpha_matting
    assert (params.fg_threshold, params.bg_threshold, params.erode_size) == (240, 10, 15)
    assert RemoveParams.model_validate({'only_mask': 'false', 'bgcolor': '#00b140'}).bgcolor == '#00b140'


def test_settings_reach_the_worker_processes_unchanged(monkeypatch):
    settings = ServeSettings(port=7123, models=(('a.yml', 'w.pdparams'), ('modnet', None)),
                             refiners=('closed-form',), refiner_default='closed-form', workers=3,
                             max_queue=4, max_pixels=1000, allow_url=True)
    monkeypatch.setenv(SETTINGS_ENV, settings.to_env())
    assert ServeSettings.from_env() == settings
    with pytest.raises(ValueError, match='refiner_default'):
        ServeSettings(refiner_default='gca')
    with pytest.raises(ValueError, match='read_timeout must be a positive number'):
        ServeSettings(read_timeout=0)


def test_serve_refuses_an_unknown_model_in_one_line(records):
    assert serve_cli.main(['--model', 'modnet-mobilenet', '--port', '0']) == 2
    errors = [m for m in records if 'unknown model' in m]
    assert len(errors) == 1 and 'did you mean modnet-mobilenetv2' in errors[0] and '\n' not in errors[0]
    assert serve_cli.main(['--model', 'modnet-mobilenetv2', '--weights', 'a', '--weights', 'b']) == 2
    assert any('--weights: 2 given for 1 --model' in m for m in records)


def test_an_unexpected_error_is_a_json_500_without_its_traceback(caplog):
    import json
    from paddlematting.serve.errors import error_response
    response = error_response(RuntimeError('a bug deep inside'))
    body = json.loads(response.body)
    assert response.status_code == 500 and body == {'detail': 'internal error (the server logged it)'}
    assert 'a bug deep inside' in caplog.text  # the server's log has it, the client does not
    limits = error_response(TooLargeError('the request body: 9 bytes is over the limit of 4 bytes', 'max_bytes', 4))
    assert limits.status_code == 413 and json.loads(limits.body) == {
        'detail': 'the request body: 9 bytes is over the limit of 4 bytes (--max-bytes)', 'limit': 'max_bytes', 'value': 4}

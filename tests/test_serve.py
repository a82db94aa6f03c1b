"""``paddlematting serve`` as a real subprocess on 127.0.0.1 (tests/serve_process.py: the
quick-start MODNet with deterministic weights, refined by closed-form): the cut-out equals the
Python API's byte for byte at the input's size, rembg's parameter names mean what they mean
there, bad input gets a JSON 4xx naming the problem (413 naming the limit, 415, 422), a full
queue answers 503 with Retry-After, /metrics is Prometheus text, and SIGTERM lets the request
in flight finish. Uploads held half-sent over a raw socket make the queue and shutdown cases
deterministic: the request holds its queue slot from its first byte."""
import http.client
import json
import os
import signal
import socket

import cv2
import numpy as np
import pytest

import paddlematting as pm
from paddlematting.utils.image_io import read_image

from conftest import REAL_DATA_ROOT
from serve_process import DEMO_CONFIG, demo_weights, multipart_body, request, running_server

pytestmark = pytest.mark.slow  # a server process: paddle's import and a model load

MAX_PIXELS = 200_000


def _png(rgb: np.ndarray) -> bytes:
    return cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def _decode(png: bytes) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None, png[:200]
    if decoded.ndim == 3:
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA if decoded.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return decoded


@pytest.fixture(scope='module')
def photo():
    """A 261x203 crop of a shipped photo (odd sizes: never padded or resized in the answer)."""
    return read_image(os.path.join(REAL_DATA_ROOT, 'val', 'fg', 'GT05.png'))[:203, 200:461]


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    return demo_weights(str(tmp_path_factory.mktemp('weights')))


@pytest.fixture(scope='module')
def server(weights, tmp_path_factory):
    extra = ['--max-queue', '1', '--max-pixels', str(MAX_PIXELS), '--max-bytes', '1000000', '--allow-url']
    with running_server(weights, str(tmp_path_factory.mktemp('logs')), extra) as started:
        yield started


@pytest.fixture(scope='module')
def expected(weights, photo):
    """The Python API's answers for ``photo``: the chain (MODNet then closed-form) and MODNet alone."""
    settings = pm.MattingSettings(device='cpu')
    chain = pm.Matting(DEMO_CONFIG, refiner='closed-form', weights=weights, settings=settings)
    alone = pm.Matting(DEMO_CONFIG, weights=weights, settings=settings)
    return {'rgba': chain.remove(photo), 'alone': alone.remove(photo),
            'green': chain.remove(photo, bgcolor=(0, 177, 64))}


def _post(server, image, fields=None, query=''):
    body, content_type = multipart_body(image, fields)
    return request(server, 'POST', '/api/remove' + query, body, content_type)


def test_multipart_upload_returns_the_api_cutout_at_the_input_size(server, photo, expected):
    status, headers, body = _post(server, _png(photo))
    assert status == 200 and headers['content-type'] == 'image/png'
    rgba = _decode(body)
    assert rgba.shape == (203, 261, 4)
    np.testing.assert_array_equal(rgba, expected['rgba'])


def test_rembg_parameter_names(server, photo, expected):
    png = _png(photo)
    status, _, body = request(server, 'POST', '/api/remove?om=true', png, 'image/png')  # raw bytes
    assert status == 200
    np.testing.assert_array_equal(_decode(body), expected['rgba'][:, :, 3])  # the matte, gray
    status, _, body = _post(server, png, {'bgc': '0,177,64,255'})  # rembg's r,g,b,a
    assert status == 200
    np.testing.assert_array_equal(_decode(body), expected['green'])
    status, _, same = _post(server, png, {'bgcolor': '#00b140'})  # the Python API's name
    assert status == 200 and same == body
    status, _, body = _post(server, png, {'a': 'false'})  # no alpha matting: the segmenter alone
    np.testing.assert_array_equal(_decode(body), expected['alone'])
    status, _, body = _post(server, png, {'refiner': 'none'}, query='?model=' + DEMO_CONFIG)
    np.testing.assert_array_equal(_decode(body), expected['alone'])
    status, _, body = _post(server, png, {'a': 'true', 'af': '250', 'ab': '5', 'ae': '4', 'ppm': 'true'})
    assert status == 200 and _decode(body).shape == (203, 261, 4)


def _error(status_body):
    status, headers, body = status_body
    assert headers['content-type'] == 'application/json', body[:200]
    detail = json.loads(body)
    assert '\n' not in detail['detail'] and 'Traceback' not in detail['detail']
    return status, detail


def test_bad_input_gets_a_json_4xx_naming_the_problem(server, photo):
    png = _png(photo)
    status, detail = _error(_post(server, b'this is not an image'))
    assert status == 415 and 'cannot decode' in detail['detail']
    status, detail = _error(_post(server, png[:len(png) // 2]))
    assert status == 422 and 'truncated' in detail['detail']
    large = np.zeros((500, 401, 3), np.uint8)  # 200,500 pixels: just over the limit
    status, detail = _error(_post(server, _png(large)))
    assert status == 413 and detail['limit'] == 'max_pixels' and detail['value'] == MAX_PIXELS
    assert detail['detail'] == ('the image is 401x500 = 200,500 pixels, over the limit of 200,000 '
                                'pixels (--max-pixels)')
    status, detail = _error(_post(server, png, {'model': 'birefnet'}))
    assert status == 422 and "model 'birefnet' is not served here" in detail['detail']
    status, detail = _error(_post(server, png, {'refiner': 'gca'}))
    assert status == 422 and "refiner 'gca' is not served here; served: closed-form" in detail['detail']
    status, detail = _error(_post(server, png, {'af': '300', 'colour': 'red'}))
    assert status == 422 and 'af: Input should be less than or equal to 255' in detail['detail']
    assert 'colour: unknown parameter' in detail['detail']
    status, detail = _error(_post(server, png, {'fg_method': 'magic'}))
    assert status == 422 and 'fg_method' in detail['detail']
    status, detail = _error(request(server, 'POST', '/api/remove', b'', 'multipart/form-data; boundary=x'))
    assert status == 422 and 'field "file"' in detail['detail']


def test_upload_over_max_bytes_is_refused_before_its_body_is_read(server):
    with socket.create_connection(('127.0.0.1', server.port), timeout=120) as sock:
        sock.sendall(b'POST /api/remove HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n'
                     b'Content-Length: 5000000000\r\n\r\n')
        response = http.client.HTTPResponse(sock)
        response.begin()
        detail = json.loads(response.read())
    assert response.status == 413 and detail['limit'] == 'max_bytes'
    assert detail['detail'] == ('the request body: 5,000,000,000 bytes is over the limit of '
                                '1,000,000 bytes (--max-bytes)')


def test_url_fetch_refuses_loopback_and_private_addresses(server):
    for url, kind in (('http://127.0.0.1:1/x.png', 'loopback'), ('http://10.1.2.3/x.png', 'private'),
                      ('http://169.254.169.254/latest/meta-data', 'link-local'),
                      ('http://[::1]/x.png', 'loopback'), ('http://localhost/x.png', 'loopback')):
        status, detail = _error(request(server, 'GET', '/api/remove?url=' + url))
        assert status == 403 and f'({kind} address)' in detail['detail'], url
    status, detail = _error(request(server, 'GET', '/api/remove?url=file:///etc/passwd'))
    assert status == 422 and 'expected an http:// or https:// URL' in detail['detail']


def _hold_upload(server, png: bytes, keep: int = 64) -> socket.socket:
    """A raw-bytes upload sent but for its last ``keep`` bytes: it holds a queue slot."""
    sock = socket.create_connection(('127.0.0.1', server.port), timeout=300)
    sock.sendall(f'POST /api/remove HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n'
                 f'Content-Length: {len(png)}\r\nConnection: close\r\n\r\n'.encode() + png[:-keep])
    return sock


def _finish_upload(sock: socket.socket, png: bytes, keep: int = 64) -> tuple:
    sock.sendall(png[-keep:])
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.read()


def test_full_queue_answers_503_with_retry_after(server, photo, expected):
    png = _png(photo)
    held = _hold_upload(server, png)
    try:
        server.wait_for_held()
        # a small second upload: the 503 comes before its body is read, and a body the server
        # never reads could make the closing socket reset the answer away
        status, headers, body = _post(server, _png(photo[:8, :8]))
        assert status == 503 and int(headers['retry-after']) >= 1
        assert 'queue of 1 request(s) is full' in json.loads(body)['detail']
        status, body = _finish_upload(held, png)
    finally:
        held.close()
    assert status == 200
    np.testing.assert_array_equal(_decode(body), expected['rgba'])  # the held one was served


def test_a_client_leaving_mid_upload_frees_its_slot_and_is_no_error(server, photo):
    held = _hold_upload(server, _png(photo))
    server.wait_for_held()
    held.close()
    server.wait_for_held(0)
    metrics = request(server, 'GET', '/metrics')[2].decode()
    assert 'paddlematting_requests_total{endpoint="/api/remove",status="499"} 1.0' in metrics
    assert 'unexpected error' not in server.log()


def test_metrics_are_prometheus_text(server, photo):
    from prometheus_client.parser import text_string_to_metric_families
    assert _post(server, _png(photo))[0] == 200
    status, headers, body = request(server, 'GET', '/metrics')
    assert status == 200 and headers['content-type'].startswith('text/plain')
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    ok = [s for s in samples['paddlematting_requests_total']
          if s.labels == {'endpoint': '/api/remove', 'status': '200'}]
    assert ok and ok[0].value >= 1
    roles = {(s.labels['model'], s.labels['role']) for s in samples['paddlematting_model_seconds_count']}
    assert {(DEMO_CONFIG, 'segmenter'), ('closed-form', 'refiner')} <= roles
    assert samples['paddlematting_request_seconds_count'][0].value >= 1
    assert samples['paddlematting_queue_depth'][0].value == 0
    assert samples['paddlematting_queue_capacity'][0].value == 1
    assert samples['process_resident_memory_bytes'][0].value > 10_000_000


def test_health_docs_and_page(server):
    health = server.health()
    assert health['models'] == [DEMO_CONFIG] and health['refiners'] == ['closed-form']
    assert health['default_refiner'] == 'closed-form'
    status, _, body = request(server, 'GET', '/openapi.json')
    spec = json.loads(body)
    assert {'post', 'get'} <= set(spec['paths']['/api/remove'])
    names = {p['name'] for p in spec['paths']['/api/remove']['post']['parameters']}
    assert {'model', 'only_mask', 'bgcolor', 'alpha_matting', 'fg_threshold'} <= names
    assert request(server, 'GET', '/docs')[0] == 200
    status, headers, body = request(server, 'GET', '/')
    assert status == 200 and headers['content-type'].startswith('text/html') and b'<script' in body


@pytest.mark.parametrize('workers', [1, 2])
def test_sigterm_finishes_the_request_in_flight(weights, tmp_path, photo, expected, workers):
    """SIGTERM while a request is held: the server stops serving and the request still gets
    its cut-out. Each worker imports paddle when its models load, and paddle's own SIGTERM
    handler would abort it: the worker puts uvicorn's back. With two workers /health is
    answered by either, so it is polled until the one holding the upload answers."""
    with running_server(weights, str(tmp_path), ['--workers', str(workers)]) as server:
        # the first worker up answers /health while the second may still be loading
        server.wait_until(lambda: server.log().count('Application startup complete') == workers,
                          'every worker started')
        png = _png(photo)
        held = _hold_upload(server, png)
        try:
            server.wait_for_held()
            server.process.send_signal(signal.SIGTERM)
            # each worker's own line: it has stopped accepting and waits for what is in flight
            server.wait_until(lambda: server.log().count('Shutting down') == workers, 'shutting down')
            status, body = _finish_upload(held, png)
        finally:
            held.close()
        assert status == 200
        np.testing.assert_array_equal(_decode(body), expected['rgba'])
        # uvicorn re-raises the signal once shut down (since 0.29): the process dies of it, as
        # a SIGTERM'd process should, but only after the answer above was sent
        assert server.process.wait(timeout=120) in (0, -signal.SIGTERM)
        assert 'FatalError' not in server.log()

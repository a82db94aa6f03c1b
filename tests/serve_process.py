"""A real ``paddlematting serve`` in a subprocess on 127.0.0.1, for the server's tests and
benchmarks/bench_server.py, with offline weights: the quick-start MODNet config (a 256-pixel
short side) with deterministic weights (paddle.seed(0), saved with paddle.save), refined by
closed-form matting (no weights)."""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Iterator, List, Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'quick_start', 'modnet_mobilenetv2_demo.yml')
START_DEADLINE = 300.0  # seconds: paddle's import and the model's load on a busy 2-core machine


def demo_weights(folder: str) -> str:
    """Deterministic MODNet-MobileNetV2 weights for DEMO_CONFIG, written once into ``folder``."""
    path = os.path.join(folder, 'modnet_seed0.pdparams')
    if not os.path.isfile(path):
        import paddle
        from paddlematting import Config
        from paddlematting.builders import Built
        paddle.seed(0)
        model = Built(Config(DEMO_CONFIG, opts=['model.backbone.pretrained=null'])).model
        paddle.save(model.state_dict(), path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def get_json(url: str, timeout: float = 30.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


class Server:
    """A started server: its base URL, process and log file."""

    def __init__(self, process: subprocess.Popen, port: int, log_path: str):
        self.process, self.port, self.log_path = process, port, log_path
        self.base = f'http://127.0.0.1:{port}'

    def log(self) -> str:
        with open(self.log_path, encoding='utf-8', errors='replace') as f:
            return f.read()

    def health(self) -> dict:
        return get_json(self.base + '/health')

    def wait_until(self, condition, what: str, deadline: float = 120.0) -> None:
        """Poll ``condition()`` (e.g. on ``health()`` or ``log()``); fail naming ``what`` after
        ``deadline`` seconds."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if condition():
                return
            time.sleep(0.02)
        raise AssertionError(f'the server never reached: {what}\n{self.log()}')

    def wait_for_held(self, count: int = 1) -> None:
        """Until a worker's /health says it holds ``count`` requests."""
        self.wait_until(lambda: self.health()['queue']['depth'] == count, f'{count} request(s) held')


def _wait_until_up(server: Server) -> None:
    end = time.monotonic() + START_DEADLINE
    while time.monotonic() < end:
        if server.process.poll() is not None:
            raise AssertionError(f'the server exited with {server.process.returncode}:\n{server.log()}')
        try:
            server.health()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f'the server did not answer /health in {START_DEADLINE} s:\n{server.log()}')


@contextlib.contextmanager
def running_server(weights: str, log_dir: str, extra: Optional[List[str]] = None,
                   config: str = DEMO_CONFIG) -> Iterator[Server]:
    """``paddlematting serve`` with ``config`` + ``weights`` and closed-form as its refiner;
    stopped with SIGTERM (then SIGKILL) on exit."""
    port = free_port()
    command = [sys.executable, '-m', 'paddlematting.cli.main', 'serve', '--port', str(port),
               '--model', config, '--weights', weights, '--refiner', 'closed-form',
               '--device', 'cpu', *(extra or [])]
    log_path = os.path.join(log_dir, f'server_{port}.log')
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    server = Server(process, port, log_path)
    try:
        _wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=60)


def multipart_body(image: bytes, fields: Optional[dict] = None, boundary: str = 'pm-test-boundary') -> tuple:
    """(body, content type) of a multipart form: ``fields`` and the image in the field ``file``."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in (fields or {}).items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
                 f'Content-Type: image/png\r\n\r\n'.encode() + image + b'\r\n')
    return b''.join(parts) + f'--{boundary}--\r\n'.encode(), f'multipart/form-data; boundary={boundary}'


def request(server: Server, method: str, path: str, body: bytes = b'',
            content_type: str = 'application/octet-stream', timeout: float = 300.0) -> tuple:
    """(status, headers dict with lower-case names, body bytes) of one request."""
    import http.client
    connection = http.client.HTTPConnection('127.0.0.1', server.port, timeout=timeout)
    try:
        headers = {'Content-Type': content_type} if method == 'POST' else {}
        connection.request(method, path, body=body if method == 'POST' else None, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()

"""A tiny HTTP(S) server on 127.0.0.1 for the download tests; it never talks to anything else.

For https, ``self_signed_certificate(folder)`` makes a certificate for 127.0.0.1 at test time
(with the ``cryptography`` package); the client trusts it only where a test points
``PADDLEMATTING_CA_BUNDLE`` at it.
"""
import contextlib
import datetime
import functools
import http.server
import ipaddress
import os
import socket
import ssl
import threading
import time
from typing import Dict, Iterator, List, Optional, Tuple


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: List[str]
    truncate_to: Optional[int] = None
    omit_length: bool = False
    redirects: Dict[str, str] = {}
    trickle_seconds: Optional[float] = None

    def send_header(self, keyword, value):
        if not (self.omit_length and keyword.lower() == 'content-length'):
            super().send_header(keyword, value)

    def do_GET(self):  # noqa: N802 - the name http.server dispatches to
        self.requests.append(self.path)
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header('Location', self.redirects[self.path])
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        super().do_GET()

    def copyfile(self, source, outputfile):
        if self.trickle_seconds is not None:
            # one byte at a time: a read timeout never fires, only a deadline stops it
            for byte in iter(lambda: source.read(1), b''):
                outputfile.write(byte)
                outputfile.flush()
                time.sleep(self.trickle_seconds)
        elif self.truncate_to is None:
            super().copyfile(source, outputfile)
        else:
            # the full Content-Length has been sent already: this imitates a dropped connection
            outputfile.write(source.read(self.truncate_to))

    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that hung up on a trickle or a refused download: nothing to report


@contextlib.contextmanager
def serve_folder(folder: str, truncate_to: Optional[int] = None, omit_length: bool = False,
                 redirects: Optional[Dict[str, str]] = None, trickle_seconds: Optional[float] = None,
                 tls: Optional[Tuple[str, str]] = None) -> Iterator[Tuple[str, List[str]]]:
    """Serve ``folder`` over HTTP; yields (base URL, list of requested paths, filled live).

    With ``truncate_to``, every response announces the file's full length but sends only
    its first ``truncate_to`` bytes; with ``omit_length`` too, no length is announced
    (HTTP/1.0: the body ends when the connection closes), so the client cannot tell.
    ``redirects`` maps request paths to the URL a 302 answer sends them to;
    ``trickle_seconds`` sends bodies one byte per that many seconds; ``tls`` is
    (certificate file, key file) to serve https instead.
    """
    requests: List[str] = []
    attrs = {'requests': requests, 'truncate_to': truncate_to, 'omit_length': omit_length,
             'redirects': dict(redirects or {}), 'trickle_seconds': trickle_seconds}
    handler = functools.partial(type('Handler', (_QuietHandler,), attrs), directory=folder)
    server = _QuietServer(('127.0.0.1', 0), handler)
    scheme = 'http'
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = 'https'
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f'{scheme}://127.0.0.1:{server.server_address[1]}', requests
    finally:
        server.shutdown()
        server.server_close()


def self_signed_certificate(folder: str) -> Tuple[str, str]:
    """(certificate PEM, key PEM) files in ``folder`` for 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(folder, 'cert.pem'), os.path.join(folder, 'key.pem')
    with open(cert_path, 'wb') as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, 'wb') as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def closed_port_url(name: str = 'model.pdparams') -> str:
    """A URL on 127.0.0.1 whose port has nothing listening, so connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return f'http://127.0.0.1:{port}/{name}'


@contextlib.contextmanager
def stalled_server(name: str = 'model.pdparams') -> Iterator[str]:
    """A URL on 127.0.0.1 whose server accepts connections but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        s.listen(8)  # the kernel completes connections; nobody ever reads or writes
        yield f'http://127.0.0.1:{s.getsockname()[1]}/{name}'

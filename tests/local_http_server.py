"""A tiny HTTP server on 127.0.0.1 for the download tests; it never talks to anything else."""
import contextlib
import functools
import http.server
import socket
import threading
from typing import Iterator, List, Optional, Tuple


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: List[str]
    truncate_to: Optional[int] = None
    omit_length: bool = False

    def send_header(self, keyword, value):
        if not (self.omit_length and keyword.lower() == 'content-length'):
            super().send_header(keyword, value)

    def do_GET(self):  # noqa: N802 - the name http.server dispatches to
        self.requests.append(self.path)
        super().do_GET()

    def copyfile(self, source, outputfile):
        if self.truncate_to is None:
            super().copyfile(source, outputfile)
        else:
            # the full Content-Length has been sent already: this imitates a dropped connection
            outputfile.write(source.read(self.truncate_to))

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_folder(folder: str, truncate_to: Optional[int] = None, omit_length: bool = False
                 ) -> Iterator[Tuple[str, List[str]]]:
    """Serve ``folder`` over HTTP; yields (base URL, list of requested paths, filled live).

    With ``truncate_to``, every response announces the file's full length but sends only
    its first ``truncate_to`` bytes; with ``omit_length`` too, no length is announced
    (HTTP/1.0: the body ends when the connection closes), so the client cannot tell.
    """
    requests: List[str] = []
    attrs = {'requests': requests, 'truncate_to': truncate_to, 'omit_length': omit_length}
    handler = functools.partial(type('Handler', (_QuietHandler,), attrs), directory=folder)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}', requests
    finally:
        server.shutdown()
        server.server_close()


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

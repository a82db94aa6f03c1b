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
def serve_folder(folder: str, truncate_to: Optional[int] = None
                 ) -> Iterator[Tuple[str, List[str]]]:
    """Serve ``folder`` over HTTP; yields (base URL, list of requested paths, filled live).

    With ``truncate_to``, every response announces the file's full length but sends only
    its first ``truncate_to`` bytes.
    """
    requests: List[str] = []
    attrs = {'requests': requests, 'truncate_to': truncate_to}
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

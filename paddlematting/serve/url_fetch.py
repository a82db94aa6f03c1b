"""``GET /api/remove?url=``: an image fetched for the client, guarded against SSRF.

Off unless the server runs with ``--allow-url``. Then only http(s) URLs on the default or a
named port are fetched, and only from public addresses: the host is resolved once, every
address it resolves to must be global (no private, loopback, link-local, multicast, reserved
or unspecified address, IPv4 or IPv6, IPv4-mapped included), and the connection goes to that
checked address (a second resolution could answer differently: DNS rebinding). Redirects are
not followed (each hop would need the same checks; the client can follow them itself). The
body is bounded by ``max_bytes`` and the whole fetch by ``read_timeout``. Runs in a thread
(blocking sockets).
"""
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from typing import List, Tuple

from .errors import ServeError, one_line
from .uploads import check_bytes

__all__ = ['check_public_address', 'resolve_public', 'fetch_image']

_CHUNK = 64 * 1024


def check_public_address(address: str, host: str) -> None:
    """ServeError 403 unless ``address`` (an IP) is a public one."""
    ip = ipaddress.ip_address(address.split('%')[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # most specific first: Python counts loopback and link-local as private too
    kinds = (('loopback', ip.is_loopback), ('link-local', ip.is_link_local),
             ('unspecified', ip.is_unspecified), ('multicast', ip.is_multicast),
             ('reserved', ip.is_reserved), ('private', ip.is_private), ('non-global', not ip.is_global))
    for kind, found in kinds:
        if found:
            raise ServeError(403, f'url: {host} resolves to {ip} ({kind} address); this server '
                                  f'fetches only from public addresses')


def resolve_public(host: str, port: int) -> str:
    """One checked public address of ``host``; 403 if any address it resolves to is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ServeError(422, f'url: cannot resolve {host} ({error.strerror})') from None
    addresses: List[str] = [info[4][0] for info in infos]
    for address in addresses:
        check_public_address(address, host)
    return addresses[0]


def _parse(url: str) -> Tuple[str, str, int, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise ServeError(422, f'url {url!r}: expected an http:// or https:// URL')
    if parts.username or parts.password:
        raise ServeError(422, 'url: credentials in the URL are not accepted')
    port = parts.port or (443 if parts.scheme == 'https' else 80)
    path = urllib.parse.urlunsplit(('', '', parts.path or '/', parts.query, ''))
    return parts.scheme, parts.hostname, port, path


def _connect(scheme: str, host: str, address: str, port: int, timeout: float) -> http.client.HTTPConnection:
    """A connection to the checked ``address``; TLS still verifies the certificate for ``host``."""
    sock = socket.create_connection((address, port), timeout=timeout)
    if scheme == 'https':
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    connection.sock = sock
    return connection


def fetch_image(url: str, max_bytes: int, timeout: float) -> bytes:
    """The body of ``url`` (see the module docstring); ServeError 4xx naming what was refused."""
    scheme, host, port, path = _parse(url)
    address = resolve_public(host, port)
    deadline = time.monotonic() + timeout
    connection = None
    try:
        connection = _connect(scheme, host, address, port, timeout)
        connection.request('GET', path, headers={'Host': host, 'User-Agent': 'paddlematting-serve'})
        response = connection.getresponse()
        if response.status != 200:
            raise ServeError(422, f'url: the server answered {response.status} {response.reason} '
                                  f'(redirects are not followed)')
        chunks, size = [], 0
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            check_bytes(size, max_bytes, 'url: the image')
            if time.monotonic() > deadline:
                raise ServeError(408, f'url: the download took over {timeout:g} s (--read-timeout)')
            chunks.append(chunk)
        return b''.join(chunks)
    except (OSError, http.client.HTTPException) as error:
        raise ServeError(422, f'url: cannot fetch {url} ({one_line(error)})') from None
    finally:
        if connection is not None:
            connection.close()

"""A download cache for pretrained weights and archives, bounded and checked.

Files land in ``$PADDLEMATTING_HOME`` (default ``~/.cache/paddlematting``). Every write goes
to a temporary name in the cache folder first and is renamed into place when complete and
checked, so an interrupted or refused download never leaves anything a later run would take
for a good file: not on an error, not on Ctrl-C, not on SIGTERM (the temporary file is
removed, then the process dies of the signal as it would have); files that SIGKILL left are
removed by the next download once they are older than the deadline. Before the rename a
download is checked: its length against the server's Content-Length, its sha256 against the
one the URL pins (``URL#sha256=<64 hex digits>``), and with ``check`` (e.g. "loads as a state
dict") its contents. Archives are unpacked (``archives.extract_archive``: member count and
unpacked size capped, each member checked) before either is renamed into the cache.

Limits (:class:`DownloadLimits`, from the environment):

- ``PADDLEMATTING_DOWNLOAD_MAX_MB`` (default 4096): the largest download, and the most an
  archive may unpack to; a larger Content-Length is refused before the body is read.
- ``PADDLEMATTING_DOWNLOAD_DEADLINE`` (seconds, default 3600): the whole download, however
  the server trickles; ``PADDLEMATTING_DOWNLOAD_TIMEOUT`` (default 20): the most it may stay
  silent. Neither is retried.
- ``PADDLEMATTING_ARCHIVE_MAX_MEMBERS`` (default 10000).

Plain ``http://`` can be altered in transit, so it is refused unless the URL pins a sha256 or
``$PADDLEMATTING_ALLOW_HTTP=1`` is set, and that rule applies to every redirect too: an https
download never continues over http, and redirects to anything but http(s) are refused.
``$PADDLEMATTING_CA_BUNDLE`` names extra certificate authorities to trust for https (a PEM
file, e.g. a company proxy's or a test server's); by default the system's are used.
"""
import contextlib
import dataclasses
import hashlib
import http.client
import os
import shutil
import signal
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Iterator, Optional, Tuple

from .archives import ARCHIVE_SUFFIXES, ArchiveLimits, archive_suffix, check_archive, extract_archive

__all__ = ['DownloadError', 'DownloadRefused', 'InsecureURLError', 'DownloadLimits',
           'cached_download', 'download_file', 'cache_home', 'cache_file_name', 'is_url',
           'archive_suffix', 'extract_archive', 'check_archive', 'split_checksum',
           'check_url_allowed', 'check_redirect', 'file_sha256', 'ARCHIVE_SUFFIXES']

_CHUNK_BYTES = 1 << 16
ALLOW_HTTP_ENV = 'PADDLEMATTING_ALLOW_HTTP'
TIMEOUT_ENV = 'PADDLEMATTING_DOWNLOAD_TIMEOUT'
DEADLINE_ENV = 'PADDLEMATTING_DOWNLOAD_DEADLINE'
MAX_MB_ENV = 'PADDLEMATTING_DOWNLOAD_MAX_MB'
MAX_MEMBERS_ENV = 'PADDLEMATTING_ARCHIVE_MAX_MEMBERS'
CA_BUNDLE_ENV = 'PADDLEMATTING_CA_BUNDLE'
DEFAULT_TIMEOUT = 20.0
_SHA256_FRAGMENT = 'sha256='
_PARTIAL_SUFFIX = '.part'


class DownloadError(ConnectionError):
    """A URL could not be fetched after all retries, or what came is not usable."""


class DownloadRefused(DownloadError):
    """A download stopped by a limit or a check that a retry cannot change."""


class InsecureURLError(ValueError):
    """A plain http:// URL (or redirect) without a pinned sha256, and http was not allowed;
    or a redirect from https to http, or to a scheme other than http(s)."""


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        number = float(value) if value else default
    except ValueError:
        number = -1.0
    if not number > 0:
        raise ValueError(f'${name} must be a positive number, got {value!r}')
    return number


@dataclasses.dataclass(frozen=True)
class DownloadLimits:
    """What one download may cost (see the module docstring for the environment variables)."""
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = 3600.0
    max_bytes: int = 4096 << 20
    archive: ArchiveLimits = ArchiveLimits()

    @classmethod
    def from_env(cls, timeout: Optional[float] = None) -> 'DownloadLimits':
        """The limits the environment sets; ``timeout`` (seconds), when given, wins."""
        max_bytes = int(_env_number(MAX_MB_ENV, cls.max_bytes / (1 << 20)) * (1 << 20))
        archive = ArchiveLimits(max_members=int(_env_number(MAX_MEMBERS_ENV, 10_000)),
                                max_unpacked_bytes=max_bytes)
        return cls(timeout=timeout or _env_number(TIMEOUT_ENV, DEFAULT_TIMEOUT),
                   deadline=_env_number(DEADLINE_ENV, cls.deadline), max_bytes=max_bytes,
                   archive=archive)


def split_checksum(url: str) -> Tuple[str, Optional[str]]:
    """``(url without fragment, sha256 hex or None)`` for ``URL[#sha256=<hex>]``.

    Raises:
        ValueError: the fragment is not ``sha256=`` followed by 64 hex digits.
    """
    base, _, fragment = url.partition('#')
    if not fragment:
        return url, None
    digest = fragment[len(_SHA256_FRAGMENT):].lower() if fragment.startswith(_SHA256_FRAGMENT) else ''
    if len(digest) != 64 or any(c not in '0123456789abcdef' for c in digest):
        raise ValueError(f'{url}: the part after "#" must be sha256=<64 hex digits>, '
                         f'got {fragment!r}')
    return base, digest


def check_url_allowed(url: str, sha256: Optional[str] = None) -> None:
    """Refuse a plain http:// URL unless it pins a sha256 or ``$PADDLEMATTING_ALLOW_HTTP=1``.

    Raises:
        InsecureURLError: naming the URL and both ways to allow it.
    """
    if urllib.parse.urlparse(url).scheme != 'http' or sha256:
        return
    if os.environ.get(ALLOW_HTTP_ENV, '') in ('1', 'true', 'yes'):
        return
    raise InsecureURLError(
        f'refusing to download {url}: plain http can be altered in transit and weights are '
        f'code-adjacent; use https://, pin the file with {url}#sha256=<hex digest>, or set '
        f'{ALLOW_HTTP_ENV}=1 to allow plain http.')


def check_redirect(old_url: str, new_url: str, sha256: Optional[str] = None) -> None:
    """Refuse a redirect from https to http, to a scheme other than http(s), or to plain
    http when :func:`check_url_allowed` would refuse that URL.

    Raises:
        InsecureURLError: naming both URLs.
    """
    old_scheme = urllib.parse.urlparse(old_url).scheme
    new_scheme = urllib.parse.urlparse(new_url).scheme
    if new_scheme not in ('http', 'https'):
        raise InsecureURLError(f'refusing the redirect from {old_url} to {new_url}: only '
                               f'http(s) redirects are followed.')
    if old_scheme == 'https' and new_scheme == 'http':
        raise InsecureURLError(f'refusing the redirect from {old_url} to {new_url}: an https '
                               f'download never continues over plain http (it could be '
                               f'altered in transit); ask the server for an https location.')
    check_url_allowed(new_url, sha256)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, each hop checked with :func:`check_redirect`."""

    def __init__(self, sha256: Optional[str]) -> None:
        self.sha256 = sha256

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_redirect(req.full_url, newurl, self.sha256)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(sha256: Optional[str]) -> urllib.request.OpenerDirector:
    """An opener with checked redirects, trusting ``$PADDLEMATTING_CA_BUNDLE`` when set."""
    handlers = [_CheckedRedirects(sha256)]
    bundle = os.environ.get(CA_BUNDLE_ENV)
    if bundle:
        if not os.path.isfile(bundle):
            raise ValueError(f'${CA_BUNDLE_ENV} names {bundle}, which is not a file')
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=bundle)))
    return urllib.request.build_opener(*handlers)


def file_sha256(path: str) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _is_timeout(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or isinstance(getattr(error, 'reason', None), TimeoutError)


def cache_home() -> str:
    """The cache folder: ``$PADDLEMATTING_HOME`` or ``~/.cache/paddlematting``."""
    home = os.environ.get('PADDLEMATTING_HOME')
    if home:
        return os.path.abspath(os.path.expanduser(home))
    return os.path.join(os.path.expanduser('~'), '.cache', 'paddlematting')


def is_url(path_or_url: str) -> bool:
    """True for an http(s) URL, False for anything meant as a local path."""
    return urllib.parse.urlparse(path_or_url).scheme in ('http', 'https')


def cache_file_name(url: str) -> str:
    """The cache file name for ``url``: a short hash of the whole URL, then its base name.

    The hash keeps two URLs with the same base name (say two ``model.pdparams``
    on different hosts) from overwriting each other; the base name stays last so
    the extension, and with it the archive type, is preserved.
    """
    base = os.path.basename(urllib.parse.urlparse(url).path) or 'download'
    # query strings and odd characters have no place in a file name
    base = ''.join(c if c.isalnum() or c in '._-' else '_' for c in base)
    digest = hashlib.sha256(url.encode('utf-8')).hexdigest()[:8]
    return f'{digest}-{base}'


def _size_refusal(url: str, size: int, limits: DownloadLimits) -> DownloadRefused:
    return DownloadRefused(f'{url}: the download is {size:,} bytes or more, over the '
                           f'{limits.max_bytes:,}-byte limit; it was stopped and nothing was '
                           f'saved (set {MAX_MB_ENV} to allow larger files).')


def _stream(response, out, url: str, limits: DownloadLimits, progress_bar) -> int:
    """Copy ``response`` to ``out`` within the size cap and the deadline; bytes received."""
    deadline = time.monotonic() + limits.deadline
    received = 0
    while True:
        if time.monotonic() > deadline:
            raise DownloadRefused(
                f'{url}: the download took longer than {limits.deadline:g} s (received '
                f'{received:,} bytes) and was stopped; nothing was saved (set {DEADLINE_ENV} '
                f'to allow longer).')
        chunk = response.read1(_CHUNK_BYTES)  # returns what has arrived: a trickle cannot stall
        if not chunk:
            return received
        received += len(chunk)
        if received > limits.max_bytes:
            raise _size_refusal(url, received, limits)
        out.write(chunk)
        progress_bar.update(len(chunk))


def _fetch(url: str, dest: str, limits: DownloadLimits, progress: bool,
           opener: urllib.request.OpenerDirector) -> None:
    """Stream ``url`` into ``dest`` (a temporary path); raise on a short read or a limit."""
    from tqdm import tqdm

    with opener.open(url, timeout=min(limits.timeout, limits.deadline)) as response:
        length = response.headers.get('Content-Length')
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > limits.max_bytes:
            raise _size_refusal(url, total, limits)
        with open(dest, 'wb') as out, tqdm(total=total, unit='B', unit_scale=True,
                                           unit_divisor=1024, disable=not progress,
                                           desc=os.path.basename(url), leave=False) as bar:
            received = _stream(response, out, url, limits, bar)
    if total is not None and received != total:
        raise DownloadError(f'{url}: the connection closed after {received:,} of {total:,} bytes')


class _Terminated(BaseException):
    """SIGTERM arrived during a download (raised so that its temporary files are removed)."""


@contextlib.contextmanager
def _cleanup_on_sigterm() -> Iterator[None]:
    """While a download runs, turn the default SIGTERM (instant death, leaving the temporary
    file) into an exception; once the ``finally`` blocks have cleaned up, die of the signal
    as before. A program with its own SIGTERM handler (the trainer) keeps it."""
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def raise_terminated(signum, frame):
        raise _Terminated()

    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)  # the temporary files are gone: die as asked
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _remove_stale_partials(folder: str, name: str, max_age: float) -> None:
    """Remove temporary files of ``name`` that a killed process (SIGKILL) left behind: any
    older than ``max_age`` seconds (the deadline) belongs to no running download."""
    if not os.path.isdir(folder):
        return
    now = time.time()
    for entry in os.listdir(folder):
        if not (entry.startswith(name + '.') and entry.endswith(_PARTIAL_SUFFIX)):
            continue
        path = os.path.join(folder, entry)
        with contextlib.suppress(OSError):
            if now - os.path.getmtime(path) > max_age:
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)


def _verify(url: str, path: str, sha256: Optional[str],
            check: Optional[Callable[[str], None]]) -> None:
    """Raise DownloadError when the downloaded ``path`` fails its checksum or ``check``
    (DownloadRefused when the check says a retry cannot help: a refused, crafted file)."""
    if sha256 is not None:
        found = file_sha256(path)
        if found != sha256:
            raise DownloadError(f'{url}: the downloaded file has sha256 {found}, but the URL '
                                f'pins {sha256}; it was not saved (wrong URL, or the file '
                                f'was altered)')
    if check is not None:
        try:
            check(path)
        except (ValueError, OSError) as e:
            kind = DownloadRefused if getattr(e, 'permanent', False) else DownloadError
            raise kind(f'{url}: the downloaded file is not usable, so it was not saved '
                       f'({" ".join(str(e).split())})') from e


def _one_attempt(url: str, dest: str, limits: DownloadLimits, progress: bool,
                 opener: urllib.request.OpenerDirector, sha256: Optional[str],
                 check: Optional[Callable[[str], None]]) -> None:
    """Download into a temporary file beside ``dest``, check it, rename it; clean up always."""
    folder = os.path.dirname(os.path.abspath(dest))
    fd, partial = tempfile.mkstemp(dir=folder, prefix=os.path.basename(dest) + '.',
                                   suffix=_PARTIAL_SUFFIX)
    os.close(fd)
    try:
        _fetch(url, partial, limits, progress, opener)
        _verify(url, partial, sha256, check)
        os.replace(partial, dest)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def download_file(url: str, dest: str, retries: int = 3, timeout: Optional[float] = None,
                  progress: bool = True, sha256: Optional[str] = None,
                  check: Optional[Callable[[str], None]] = None) -> str:
    """Download ``url`` to the file ``dest`` atomically, retrying transient failures.

    Args:
        url: an http(s) URL (without a ``#sha256=`` fragment; see ``cached_download``).
        dest: the final file path; its folder is created when missing.
        retries: how many attempts in all (at least 1).
        timeout: seconds to wait for the connection and for each read; default
            ``$PADDLEMATTING_DOWNLOAD_TIMEOUT``. Other limits: :class:`DownloadLimits`.
        progress: show a tqdm progress bar (with the size when the server sends it).
        sha256: the expected hex digest; a mismatch is an error and nothing is kept.
        check: called with the temporary file before it is renamed to ``dest``; raising
            (e.g. "does not load as a state dict") keeps the file out of ``dest``.
    Returns:
        ``dest``.
    Raises:
        DownloadRefused: past a limit (size, deadline) or refused by ``check``; not retried.
        InsecureURLError: a redirect that :func:`check_redirect` refuses.
        DownloadError: every attempt failed, or the server stalled (names the URL and cause).
    """
    limits = DownloadLimits.from_env(timeout)
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    _remove_stale_partials(os.path.dirname(os.path.abspath(dest)), os.path.basename(dest),
                           limits.deadline + 60)
    opener = _opener(sha256)
    last_error: Optional[BaseException] = None
    attempts = max(1, retries)
    with _cleanup_on_sigterm():
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(0.5 * 2 ** (attempt - 1), 4.0))
            try:
                _one_attempt(url, dest, limits, progress, opener, sha256, check)
                return dest
            except DownloadRefused:
                raise
            except urllib.error.HTTPError as e:
                last_error = e
                if 400 <= e.code < 500:  # a 4xx answer will not change on a retry
                    break
            except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
                last_error = e
                if _is_timeout(e):
                    raise DownloadError(
                        f'{url}: the server sent nothing for {limits.timeout:g} s and the '
                        f'download was stopped; check the network (set {TIMEOUT_ENV} to wait '
                        f'longer), or download the file yourself and pass its local path') from e
    if isinstance(last_error, DownloadError):  # our own message, naming the URL
        raise DownloadError(f'{last_error} (tried {attempts} times)') from last_error
    raise DownloadError(
        f'could not download {url} ({last_error}); check the network or the URL, or download '
        f'the file yourself and pass its local path instead') from last_error


def _unpack_cached(url: str, archive: str, unpacked: str, suffix: str, limits: DownloadLimits,
                   member_check: Optional[Callable[[str], None]]) -> str:
    """Unpack an archive already in the cache (a run stopped before unpacking it); a bad one
    is removed, so the next run downloads it again."""
    try:
        return extract_archive(archive, unpacked, suffix, limits.archive, member_check)
    except ValueError as e:
        os.remove(archive)
        raise DownloadError(f'the cached {archive} (from {url}) is not usable and was removed; '
                            f'run again to download it again ({" ".join(str(e).split())})') from e


def cached_download(url: str, cache_dir: Optional[str] = None, extract: bool = False,
                    retries: int = 3, timeout: Optional[float] = None, progress: bool = True,
                    check: Optional[Callable[[str], None]] = None) -> str:
    """The local path of ``url``, downloading it into the cache only the first time.

    Args:
        url: an http(s) URL, optionally ending in ``#sha256=<hex>`` (then the file, also a
            cached one, must have that digest). Plain http needs the digest or
            ``$PADDLEMATTING_ALLOW_HTTP=1``.
        cache_dir: where to keep it; default :func:`cache_home`.
        extract: ``url`` names a .tar.gz/.tgz/.tar/.zip archive; unpack it (once) into a
            folder named after the archive and return that folder. The archive is read to
            its end and unpacked (within ``DownloadLimits.archive``) before either enters the
            cache.
        retries, timeout, progress: as in :func:`download_file`.
        check: called with the downloaded file, or with each file unpacked from an archive;
            raising keeps the download out of the cache.
    Returns:
        The cached file, or with ``extract`` the unpacked folder.
    Raises:
        ValueError: ``url`` is not an http(s) URL, or ``extract`` is set for a non-archive.
        InsecureURLError: a plain http URL or a redirect that is not allowed.
        DownloadError: the URL could not be fetched, or the file (cached or new) failed its
            checks; a bad cached file is named, with the advice to delete it.
    """
    if not is_url(url):
        raise ValueError(f'{url!r} is not an http(s) URL')
    url, sha256 = split_checksum(url)
    check_url_allowed(url, sha256)
    target = os.path.join(cache_dir or cache_home(), cache_file_name(url))
    suffix = archive_suffix(url) if extract else None
    if extract and suffix is None:
        raise ValueError(f'{url} does not end in an archive suffix '
                         f'({", ".join(ARCHIVE_SUFFIXES)}), so it cannot be extracted')
    unpacked = target[:-len(suffix)] if extract else None
    if extract and os.path.isdir(unpacked) and sha256 is None:
        return unpacked
    if os.path.isfile(target):
        if sha256 is not None and file_sha256(target) != sha256:
            raise DownloadError(f'the cached {target} (from {url}) does not have the sha256 '
                                f'the URL pins ({sha256}); delete it to download it again')
        if extract:
            return _unpack_cached(url, target, unpacked, suffix, DownloadLimits.from_env(timeout), check)
        return target
    if extract:
        limits, member_check = DownloadLimits.from_env(timeout), check
        # unpacking folders a SIGKILL left (download_file sweeps the archive's own)
        _remove_stale_partials(os.path.dirname(unpacked), os.path.basename(unpacked),
                               limits.deadline + 60)

        def check(partial: str) -> None:  # unpacked (and checked) before the archive is kept
            check_archive(partial)
            extract_archive(partial, unpacked, suffix, limits.archive, member_check)
    download_file(url, target, retries=retries, timeout=timeout, progress=progress,
                  sha256=sha256, check=check)
    return unpacked if extract else target

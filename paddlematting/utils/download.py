"""A download cache for pretrained weights and archives.

Files land in ``$PADDLEMATTING_HOME`` (default ``~/.cache/paddlematting``). Every
write goes to a temporary name in the cache folder first and is renamed into place
when complete, so an interrupted download or extraction never leaves a partial
file that a later run would mistake for a good one. Before the rename a download is
checked: its length against the server's Content-Length, its sha256 against the one the
URL pins (``URL#sha256=<64 hex digits>``), and with ``check`` (e.g. "loads as a state
dict") its contents, so a truncated or corrupt file never enters the cache.

Plain ``http://`` URLs can be altered in transit, so they are refused unless they pin a
sha256 or ``$PADDLEMATTING_ALLOW_HTTP=1`` is set. A server that stops sending for
``$PADDLEMATTING_DOWNLOAD_TIMEOUT`` seconds (default 20) fails at once, without retries.
"""
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from typing import Callable, Optional, Tuple

ARCHIVE_SUFFIXES = ('.tar.gz', '.tgz', '.tar', '.zip')
_CHUNK_BYTES = 1 << 16
ALLOW_HTTP_ENV = 'PADDLEMATTING_ALLOW_HTTP'
TIMEOUT_ENV = 'PADDLEMATTING_DOWNLOAD_TIMEOUT'
DEFAULT_TIMEOUT = 20.0
_SHA256_FRAGMENT = 'sha256='


class DownloadError(ConnectionError):
    """A URL could not be fetched after all retries, or what came is not usable."""


class InsecureURLError(ValueError):
    """A plain http:// URL without a pinned sha256, and http was not allowed."""


def download_timeout() -> float:
    """Seconds a server may stay silent: ``$PADDLEMATTING_DOWNLOAD_TIMEOUT`` or 20."""
    value = os.environ.get(TIMEOUT_ENV)
    try:
        return float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        raise ValueError(f'${TIMEOUT_ENV} must be a number of seconds, got {value!r}') from None


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


def archive_suffix(name: str) -> Optional[str]:
    """The archive suffix of a file name or URL ('.tar.gz', '.zip', ...), or None."""
    lowered = urllib.parse.urlparse(name).path.lower() if is_url(name) else name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix):
            return suffix
    return None


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


def _fetch(url: str, dest: str, timeout: float, progress: bool) -> None:
    """Stream ``url`` into ``dest`` (a temporary path); raise on a short read."""
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get('Content-Length')
        total = int(length) if length and length.isdigit() else None
        received = 0
        with open(dest, 'wb') as out, tqdm(total=total, unit='B', unit_scale=True,
                                           unit_divisor=1024, disable=not progress,
                                           desc=os.path.basename(url), leave=False) as bar:
            while True:
                chunk = response.read(_CHUNK_BYTES)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise DownloadError(f'the connection closed after {received} of {total} bytes')


def download_file(url: str, dest: str, retries: int = 3, timeout: Optional[float] = None,
                  progress: bool = True, sha256: Optional[str] = None,
                  check: Optional[Callable[[str], None]] = None) -> str:
    """Download ``url`` to the file ``dest`` atomically, retrying transient failures.

    Args:
        url: an http(s) URL (without a ``#sha256=`` fragment; see ``cached_download``).
        dest: the final file path; its folder is created when missing.
        retries: how many attempts in all (at least 1).
        timeout: seconds to wait for the connection and for each read; default
            ``download_timeout()``. A timeout is not retried: a stalled server rarely recovers.
        progress: show a tqdm progress bar (with the size when the server sends it).
        sha256: the expected hex digest; a mismatch is an error and nothing is kept.
        check: called with the temporary file before it is renamed to ``dest``; raising
            (e.g. "does not load as a state dict") keeps the file out of ``dest``.
    Returns:
        ``dest``.
    Raises:
        DownloadError: every attempt failed, the server stalled, or the file failed its
            checks (names the URL and the cause).
    """
    timeout = download_timeout() if timeout is None else timeout
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    last_error: Optional[BaseException] = None
    for attempt in range(max(1, retries)):
        if attempt:
            time.sleep(min(0.5 * 2 ** (attempt - 1), 4.0))
        fd, partial = tempfile.mkstemp(dir=folder, prefix=os.path.basename(dest) + '.',
                                       suffix='.part')
        os.close(fd)
        try:
            _fetch(url, partial, timeout, progress)
            _verify(url, partial, sha256, check)
            os.replace(partial, dest)
            return dest
        except urllib.error.HTTPError as e:
            last_error = e
            # a 4xx answer will not change on a retry
            if 400 <= e.code < 500:
                break
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            last_error = e
            if _is_timeout(e):
                raise DownloadError(
                    f'{url}: the server sent nothing for {timeout:g} s and the download was '
                    f'stopped; check the network (set {TIMEOUT_ENV} to wait longer), or '
                    f'download the file yourself and pass its local path') from e
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    raise DownloadError(
        f'could not download {url} ({last_error}); check the network or the URL, or download '
        f'the file yourself and pass its local path instead') from last_error


def _verify(url: str, path: str, sha256: Optional[str],
            check: Optional[Callable[[str], None]]) -> None:
    """Raise DownloadError when the downloaded ``path`` fails its checksum or ``check``."""
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
            raise DownloadError(f'{url}: the downloaded file is not usable, so it was not '
                                f'saved ({e})') from e


def check_archive(path: str) -> None:
    """Read a .tar.gz/.tgz/.tar/.zip archive to its end; raise ValueError when it is truncated
    or corrupt (a cut gzip stream or zip directory is found only by reading it all)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            if bad is not None:
                raise ValueError(f'{path}: the member {bad} is corrupt')
            return
        with tarfile.open(path) as tf:
            for member in tf:
                if member.isfile():
                    handle = tf.extractfile(member)
                    while handle is not None and handle.read(1 << 20):
                        pass
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise ValueError(f'{path} is not a complete archive ({type(e).__name__}: {e})') from e


def _is_within(folder: str, path: str) -> bool:
    folder = os.path.realpath(folder)
    return os.path.commonpath([folder, os.path.realpath(path)]) == folder


def _check_tar_members(tf: tarfile.TarFile, folder: str, archive: str) -> None:
    """Refuse, as the 'data' extraction filter does, any member of ``tf`` that is not a plain
    file, folder or link, or that (or whose link target) would land outside ``folder``.

    Raises:
        ValueError: naming ``archive`` and the first unsafe member.
    """
    for member in tf.getmembers():
        target = os.path.join(folder, member.name)
        unsafe = not (member.isfile() or member.isdir() or member.issym() or member.islnk())
        unsafe = unsafe or os.path.isabs(member.name) or not _is_within(folder, target)
        if member.issym():
            unsafe = unsafe or os.path.isabs(member.linkname) or not _is_within(
                folder, os.path.join(os.path.dirname(target), member.linkname))
        elif member.islnk():
            unsafe = unsafe or not _is_within(folder, os.path.join(folder, member.linkname))
        if unsafe:
            raise ValueError(f'{archive} holds the unsafe member {member.name!r}')


def extract_archive(archive: str, dest: str) -> str:
    """Unpack a .tar.gz/.tgz/.tar/.zip ``archive`` into the folder ``dest`` atomically.

    The archive is unpacked into a temporary sibling folder which is renamed to
    ``dest`` once complete; an existing ``dest`` is returned untouched.
    Members that would land outside ``dest`` (absolute paths, ``..``) are refused.

    Returns:
        ``dest``.
    Raises:
        ValueError: the file is not a supported archive or holds an unsafe member.
    """
    if os.path.isdir(dest):
        return dest
    suffix = archive_suffix(archive)
    if suffix is None:
        raise ValueError(f'{archive} is not an archive; expected one of {", ".join(ARCHIVE_SUFFIXES)}')
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=os.path.basename(dest) + '.', suffix='.part')
    try:
        if suffix == '.zip':
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    if not _is_within(staging, os.path.join(staging, name)):
                        raise ValueError(f'{archive} holds the unsafe member {name!r}')
                zf.extractall(staging)
        else:
            with tarfile.open(archive) as tf:
                if hasattr(tarfile, 'data_filter'):
                    # the 'data' filter refuses absolute paths, '..' and links leaving the folder
                    tf.extractall(staging, filter='data')
                else:  # Pythons before 3.10.12 / 3.11.4 have no extraction filters
                    _check_tar_members(tf, staging, archive)
                    tf.extractall(staging)
        try:
            os.rename(staging, dest)
        except OSError:
            # another process finished the same extraction first; its copy is as good
            if not os.path.isdir(dest):
                raise
    except (tarfile.TarError, zipfile.BadZipFile) as e:
        # FilterError (an unsafe member) is a TarError too
        raise ValueError(f'{archive} is not a readable, safe {suffix} archive ({e})') from e
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return dest


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
            folder named after the archive and return that folder (the archive is read to
            its end before it enters the cache).
        retries, timeout, progress, check: as in :func:`download_file` (``check`` applies to
            plain files; archives get :func:`check_archive`).
    Returns:
        The cached file, or with ``extract`` the unpacked folder.
    Raises:
        ValueError: ``url`` is not an http(s) URL, or ``extract`` is set for a non-archive.
        InsecureURLError: a plain http URL that is not allowed (see ``check_url_allowed``).
        DownloadError: the URL could not be fetched, or the file (cached or new) failed its
            checks; a bad cached file is named, with the advice to delete it.
    """
    if not is_url(url):
        raise ValueError(f'{url!r} is not an http(s) URL')
    url, sha256 = split_checksum(url)
    check_url_allowed(url, sha256)
    folder = cache_dir or cache_home()
    target = os.path.join(folder, cache_file_name(url))
    if extract:
        suffix = archive_suffix(url)
        if suffix is None:
            raise ValueError(f'{url} does not end in an archive suffix '
                             f'({", ".join(ARCHIVE_SUFFIXES)}), so it cannot be extracted')
        unpacked = target[:-len(suffix)]
        if os.path.isdir(unpacked) and sha256 is None:
            return unpacked
        check = check_archive
    if os.path.isfile(target):
        if sha256 is not None and file_sha256(target) != sha256:
            raise DownloadError(f'the cached {target} (from {url}) does not have the sha256 '
                                f'the URL pins ({sha256}); delete it to download it again')
    else:
        download_file(url, target, retries=retries, timeout=timeout, progress=progress,
                      sha256=sha256, check=check)
    if extract:
        return extract_archive(target, unpacked)
    return target

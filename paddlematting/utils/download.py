"""A download cache for pretrained weights and archives.

Files land in ``$PADDLEMATTING_HOME`` (default ``~/.cache/paddlematting``). Every
write goes to a temporary name in the cache folder first and is renamed into place
when complete, so an interrupted download or extraction never leaves a partial
file that a later run would mistake for a good one.
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
from typing import Optional

ARCHIVE_SUFFIXES = ('.tar.gz', '.tgz', '.tar', '.zip')
_CHUNK_BYTES = 1 << 16


class DownloadError(ConnectionError):
    """A URL could not be fetched after all retries."""


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


def download_file(url: str, dest: str, retries: int = 3, timeout: float = 30.0,
                  progress: bool = True) -> str:
    """Download ``url`` to the file ``dest`` atomically, retrying transient failures.

    Args:
        url: an http(s) URL.
        dest: the final file path; its folder is created when missing.
        retries: how many attempts in all (at least 1).
        timeout: seconds to wait for the connection and for each read.
        progress: show a tqdm progress bar (with the size when the server sends it).
    Returns:
        ``dest``.
    Raises:
        DownloadError: every attempt failed (names the URL and the last cause).
    """
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
            os.replace(partial, dest)
            return dest
        except urllib.error.HTTPError as e:
            last_error = e
            # a 4xx answer will not change on a retry
            if 400 <= e.code < 500:
                break
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            last_error = e
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    raise DownloadError(
        f'could not download {url} ({last_error}); check the network or the URL, or download '
        f'the file yourself and pass its local path instead') from last_error


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
                    retries: int = 3, timeout: float = 30.0, progress: bool = True) -> str:
    """The local path of ``url``, downloading it into the cache only the first time.

    Args:
        url: an http(s) URL.
        cache_dir: where to keep it; default :func:`cache_home`.
        extract: ``url`` names a .tar.gz/.tgz/.tar/.zip archive; unpack it (once) into a
            folder named after the archive and return that folder.
        retries, timeout, progress: as in :func:`download_file`.
    Returns:
        The cached file, or with ``extract`` the unpacked folder.
    Raises:
        ValueError: ``url`` is not an http(s) URL, or ``extract`` is set for a non-archive.
        DownloadError: the URL could not be fetched.
    """
    if not is_url(url):
        raise ValueError(f'{url!r} is not an http(s) URL')
    folder = cache_dir or cache_home()
    target = os.path.join(folder, cache_file_name(url))
    if extract:
        suffix = archive_suffix(url)
        if suffix is None:
            raise ValueError(f'{url} does not end in an archive suffix '
                             f'({", ".join(ARCHIVE_SUFFIXES)}), so it cannot be extracted')
        unpacked = target[:-len(suffix)]
        if os.path.isdir(unpacked):
            return unpacked
    if not os.path.isfile(target):
        download_file(url, target, retries=retries, timeout=timeout, progress=progress)
    if extract:
        return extract_archive(target, unpacked)
    return target

"""Unpacking downloaded ``.tar.gz``/``.tgz``/``.tar``/``.zip`` archives safely and within limits.

An archive is unpacked into a temporary sibling folder and renamed into place only when
everything in it passed: no member may land outside the folder (absolute paths, ``..``, links
leaving it), the archive may hold at most ``ArchiveLimits.max_members`` members and unpack to
at most ``max_unpacked_bytes`` (and to no more than ``max_ratio`` times its own size: a 26 MB
archive of zeros must not become 2 GB on disk), and every extracted file passes the caller's
``member_check`` (for weights archives: each weights file loads through ``weights_io``).
"""
import dataclasses
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import zipfile
from typing import Callable, Iterator, Optional, Tuple

__all__ = ['ARCHIVE_SUFFIXES', 'ArchiveLimits', 'ArchiveRefused', 'archive_suffix',
           'check_archive', 'extract_archive']

ARCHIVE_SUFFIXES = ('.tar.gz', '.tgz', '.tar', '.zip')
_RATIO_SLACK_BYTES = 16 << 20  # small archives may unpack to this much whatever their ratio
# what the 'data' extraction filter raises (Pythons without filters raise ours instead)
_TAR_FILTER_ERROR = getattr(tarfile, 'FilterError', ())


class ArchiveRefused(ValueError):
    """An archive past its limits, with an unsafe member, or with a member its check refused."""
    permanent = True  # downloading it again cannot change the answer


@dataclasses.dataclass(frozen=True)
class ArchiveLimits:
    """What unpacking one archive may produce.

    Attributes:
        max_members: entries (files, folders, links) in the archive.
        max_unpacked_bytes: the sum of the members' sizes.
        max_ratio: unpacked bytes per byte of archive (beyond the first 16 MiB); weights and
            images hardly compress, so 20 leaves room and still stops compression bombs.
    """
    max_members: int = 10_000
    max_unpacked_bytes: int = 4 << 30
    max_ratio: float = 20.0


def archive_suffix(name: str) -> Optional[str]:
    """The archive suffix of a file name or URL ('.tar.gz', '.zip', ...), or None."""
    parsed = urllib.parse.urlparse(name)
    lowered = (parsed.path if parsed.scheme in ('http', 'https') else name).lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix):
            return suffix
    return None


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
            raise ArchiveRefused(f'{archive} holds the unsafe member {member.name!r}')


def _member_sizes(archive: str, suffix: str) -> Iterator[Tuple[str, int]]:
    """(name, unpacked size) of each member, as the archive's index declares them (zipfile
    and tarfile never produce more than a member's declared size)."""
    if suffix == '.zip':
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                yield info.filename, info.file_size
        return
    with tarfile.open(archive) as tf:
        for member in tf:
            yield member.name, member.size if member.isfile() else 0


def _check_limits(archive: str, suffix: str, limits: ArchiveLimits) -> None:
    """Refuse an archive with too many members or too many unpacked bytes, before unpacking."""
    archive_bytes = os.path.getsize(archive)
    max_bytes = min(limits.max_unpacked_bytes,
                    int(limits.max_ratio * archive_bytes) + _RATIO_SLACK_BYTES)
    count = total = 0
    for _name, size in _member_sizes(archive, suffix):
        count += 1
        total += size
        if count > limits.max_members:
            raise ArchiveRefused(f'{archive} holds more than {limits.max_members:,} members; '
                             f'a weights archive has a few (set PADDLEMATTING_ARCHIVE_MAX_MEMBERS '
                             f'to allow more).')
        if total > max_bytes:
            raise ArchiveRefused(f'{archive} ({archive_bytes:,} bytes) would unpack to more than '
                             f'{max_bytes:,} bytes (at most {limits.max_ratio:g} times its size '
                             f'and PADDLEMATTING_DOWNLOAD_MAX_MB); it was not unpacked.')


def _unpack(archive: str, suffix: str, staging: str) -> None:
    if suffix == '.zip':
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if not _is_within(staging, os.path.join(staging, name)):
                    raise ArchiveRefused(f'{archive} holds the unsafe member {name!r}')
            zf.extractall(staging)
        return
    with tarfile.open(archive) as tf:
        if hasattr(tarfile, 'data_filter'):
            # the 'data' filter refuses absolute paths, '..' and links leaving the folder
            tf.extractall(staging, filter='data')
        else:  # Pythons before 3.10.12 / 3.11.4 have no extraction filters
            _check_tar_members(tf, staging, archive)
            tf.extractall(staging)


def _check_members(archive: str, staging: str, member_check: Callable[[str], None]) -> None:
    """Run ``member_check`` on every extracted file; name the member that fails."""
    for root, _dirs, files in os.walk(staging):
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue  # its target is a member of its own, checked there
            try:
                member_check(path)
            except (ValueError, OSError) as error:
                member = os.path.relpath(path, staging)
                kind = ArchiveRefused if getattr(error, 'permanent', False) else ValueError
                raise kind(f'{archive}: its member {member} is not usable: '
                           f'{" ".join(str(error).split())}') from error


def extract_archive(archive: str, dest: str, suffix: Optional[str] = None,
                    limits: ArchiveLimits = ArchiveLimits(),
                    member_check: Optional[Callable[[str], None]] = None) -> str:
    """Unpack a .tar.gz/.tgz/.tar/.zip ``archive`` into the folder ``dest`` atomically.

    The archive is unpacked into a temporary sibling folder, which is renamed to ``dest``
    once complete and checked; an existing ``dest`` is returned untouched.

    Args:
        suffix: the archive type when ``archive``'s own name does not end in it (a download's
            temporary file); default from the name.
        limits: members and unpacked bytes allowed (checked before anything is written).
        member_check: called with each extracted file; raising ValueError/OSError refuses it.
    Returns:
        ``dest``.
    Raises:
        ValueError: not a supported archive, an unsafe member, past ``limits``, or a member
            that fails ``member_check`` (named); nothing is left behind.
    """
    if os.path.isdir(dest):
        return dest
    suffix = suffix or archive_suffix(archive)
    if suffix is None:
        raise ValueError(f'{archive} is not an archive; expected one of {", ".join(ARCHIVE_SUFFIXES)}')
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=os.path.basename(dest) + '.', suffix='.part')
    try:
        _check_limits(archive, suffix, limits)
        _unpack(archive, suffix, staging)
        if member_check is not None:
            _check_members(archive, staging, member_check)
        try:
            os.rename(staging, dest)
        except OSError:
            # another process finished the same extraction first; its copy is as good
            if not os.path.isdir(dest):
                raise
    except _TAR_FILTER_ERROR as e:  # an unsafe member
        raise ArchiveRefused(f'{archive} is not a safe {suffix} archive ({e})') from e
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f'{archive} is not a readable {suffix} archive ({e})') from e
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return dest

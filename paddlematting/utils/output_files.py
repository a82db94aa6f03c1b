"""Writing outputs safely: checked output folders, atomic files, a full disk named, one run
per folder.

- ``check_output_dir``: a ``--save_dir`` that is a file or cannot be written is refused
  before any work is done.
- ``atomic_write`` / ``write_bytes_atomically``: every file is written under a temporary
  name in its own folder and renamed when complete, so a crash or a full disk never leaves a
  truncated file under the final name; files get the usual ``0666 & ~umask`` permissions.
- ``disk_full_error``: ENOSPC becomes one sentence naming the path and saying the disk is full.
- ``OutputDirLock``: an ``flock`` on the output folder (released by the kernel when the
  process dies) refuses a second run writing into the same folder.
"""
import contextlib
import errno
import os
import tempfile
from typing import IO, Iterator, Optional

__all__ = ['OutputDirError', 'DiskFullError', 'OutputDirLockedError', 'check_output_dir',
           'atomic_write', 'write_bytes_atomically', 'disk_full_error', 'current_umask',
           'default_file_mode', 'default_dir_mode', 'OutputDirLock', 'hold_output_dir',
           'release_output_dirs']

_TMP_SUFFIX = '.part'


class OutputDirError(ValueError):
    """An output folder that is a file, or that cannot be created or written."""


class DiskFullError(OSError):
    """A write failed because the disk (or quota) is full; the message names the path."""


class OutputDirLockedError(RuntimeError):
    """Another run holds the output folder's lock."""


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (thread-safe)."""
    try:
        with open('/proc/self/status', encoding='ascii') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """``0o666 & ~umask``: what ``open(path, 'w')`` would give a new file."""
    return 0o666 & ~current_umask()


def default_dir_mode() -> int:
    """``0o777 & ~umask``: what ``os.makedirs`` would give a new folder."""
    return 0o777 & ~current_umask()


def disk_full_error(path: str, error: OSError) -> OSError:
    """``error`` as a ``DiskFullError`` naming ``path`` when it is ENOSPC/EDQUOT, else itself."""
    if isinstance(error, DiskFullError) or error.errno not in (errno.ENOSPC, errno.EDQUOT):
        return error
    what = 'disk is full' if error.errno == errno.ENOSPC else 'disk quota is exhausted'
    return DiskFullError(error.errno, f'{path}: could not be written because the {what} '
                                      f'(free some space, or choose another --save_dir); '
                                      f'nothing was left under that name')


def check_output_dir(path: str, flag: str = '--save_dir') -> str:
    """Refuse an output folder that cannot be used, before any work is done.

    Args:
        path: the folder to write into (it need not exist yet).
        flag: how the user named it, for the message.
    Returns:
        The absolute path.
    Raises:
        OutputDirError: ``path`` (or a parent) is a file, or the folder (or its nearest
            existing parent, when it does not exist yet) is not writable.
    """
    absolute = os.path.abspath(os.path.expanduser(path))
    probe = absolute
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        what = 'is a file' if probe == absolute else f'lies under the file {probe}'
        raise OutputDirError(f'{flag} {path} {what}; expected a folder (existing or new).')
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputDirError(f'{flag} {path}: the folder {probe} is not writable by this user.')
    return absolute


@contextlib.contextmanager
def atomic_write(path: str, mode: str = 'wb', **open_args) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it to ``path`` on success.

    On any error the temporary file is removed, ``path`` keeps its old contents (or stays
    absent), and ENOSPC is raised as ``DiskFullError`` naming ``path``. Folders are created.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path) + '.',
                               suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, mode, **open_args) as f:
            yield f
            f.flush()
        os.chmod(tmp, default_file_mode())  # mkstemp makes 0600
        os.replace(tmp, path)
    except OSError as error:
        _remove_quietly(tmp)
        raise disk_full_error(path, error) from error
    except BaseException:
        _remove_quietly(tmp)
        raise


def write_bytes_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``atomic_write``."""
    with atomic_write(path, 'wb') as f:
        f.write(data)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


class OutputDirLock:
    """Hold an exclusive lock on the folder ``folder`` for the length of a run.

    The lock is an ``flock`` on the folder itself (no lock file is left among the outputs),
    so it vanishes with the process (kill -9 included) and never blocks a later run; a
    folder created just for the lock is removed again if the run left it empty. On
    systems without ``fcntl`` the lock does nothing.

    Raises:
        OutputDirLockedError: (on enter) another process holds the lock.
    """

    def __init__(self, folder: str, what: str = 'run') -> None:
        self.folder = folder
        self.what = what
        self._fd: Optional[int] = None
        self._created = False

    def __enter__(self) -> 'OutputDirLock':
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return self
        self._created = not os.path.exists(self.folder)
        os.makedirs(self.folder, exist_ok=True)
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputDirLockedError(
                f'--save_dir {self.folder} is in use by another paddlematting run writing into '
                f'it; wait for it to finish or choose another --save_dir.') from None
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None
            if self._created:  # a run that wrote nothing leaves no empty folder behind
                try:
                    os.rmdir(self.folder)
                except OSError:
                    pass


_HELD: list = []


def hold_output_dir(folder: str, what: str = 'run') -> None:
    """Take ``folder``'s lock until ``release_output_dirs`` (the command-line tools release it
    when their ``main`` returns; the kernel releases it if the process dies).

    Raises:
        OutputDirLockedError: another process holds it.
    """
    _HELD.append(OutputDirLock(folder, what).__enter__())


def release_output_dirs() -> None:
    """Release every lock taken by ``hold_output_dir``."""
    while _HELD:
        _HELD.pop().__exit__(None, None, None)

"""Which export folders are ours, and publishing a new export without touching anything else.

An export folder is ours only when it holds ``EXPORT_MARKER``, a small JSON file listing the
files the export wrote. A new export may replace such a folder, and then only those files:
anything a user added beside them stays. A folder without the marker (even one holding a
``deploy.yaml``) is never replaced; an empty one is used.
"""
import json
import os
import shutil
import tempfile
from typing import List, Optional

from ..utils.output_files import check_output_dir, default_dir_mode, write_bytes_atomically

__all__ = ['EXPORT_MARKER', 'check_export_dir', 'write_export_marker', 'exported_files',
           'publish_export', 'prepare_staging_dir']

EXPORT_MARKER = '.paddlematting-export.json'


def exported_files(folder: str) -> Optional[List[str]]:
    """The file names the marker of ``folder`` lists, or None when it has no valid marker."""
    path = os.path.join(folder, EXPORT_MARKER)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            files = json.load(f).get('files')
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(files, list) or not all(isinstance(n, str) for n in files):
        return None
    # only plain names inside the folder: a crafted marker cannot point elsewhere
    return [n for n in files if n and os.path.basename(n) == n and n not in ('.', '..')]


def check_export_dir(save_dir: str) -> str:
    """Refuse, before any work, a ``--save_dir`` that an export must not write into.

    Returns:
        The absolute path.
    Raises:
        OutputDirError: it is a file or not writable.
        FileExistsError: it is a non-empty folder without our marker.
    """
    absolute = check_output_dir(save_dir)
    if os.path.isdir(absolute) and os.listdir(absolute) and exported_files(absolute) is None:
        raise FileExistsError(
            f'--save_dir {save_dir} exists and is not an export folder written by '
            f'paddlematting (it has no {EXPORT_MARKER}), so nothing in it is replaced; choose '
            f'an empty or new --save_dir.')
    return absolute


def prepare_staging_dir(parent: str) -> str:
    """A new temporary folder in ``parent`` with the usual ``0777 & ~umask`` mode (mkdtemp
    makes 0700, which a serving account could not read after the rename)."""
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.export-', dir=parent)
    os.chmod(staging, default_dir_mode())
    return staging


def write_export_marker(folder: str) -> None:
    """List every entry of ``folder`` in its marker (call last, once all files are written)."""
    files = sorted(n for n in os.listdir(folder) if n != EXPORT_MARKER)
    write_bytes_atomically(os.path.join(folder, EXPORT_MARKER),
                           json.dumps({'files': files}, indent=1).encode('utf-8'))


def _replace_our_files(staging: str, save_dir: str, previous: List[str]) -> None:
    """Move the new export's files into ``save_dir`` one by one (each an atomic rename),
    remove the previous export's files it no longer has, keep everything else."""
    new = [n for n in os.listdir(staging) if n != EXPORT_MARKER]
    # the old marker goes first: a crash midway leaves a folder that is not called ours
    os.remove(os.path.join(save_dir, EXPORT_MARKER))
    for name in new:
        target = os.path.join(save_dir, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        os.replace(os.path.join(staging, name), target)
    for name in set(previous) - set(new):
        target = os.path.join(save_dir, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target, ignore_errors=True)
        elif os.path.lexists(target):
            os.remove(target)
    os.replace(os.path.join(staging, EXPORT_MARKER), os.path.join(save_dir, EXPORT_MARKER))
    shutil.rmtree(staging, ignore_errors=True)


def publish_export(staging: str, save_dir: str, replace: bool) -> bool:
    """Rename the finished ``staging`` folder to ``save_dir``.

    Args:
        staging: a complete export (its marker written) beside ``save_dir``.
        save_dir: the final folder.
        replace: replace an existing export of ours. When False and ``save_dir`` exists
            (another process published it first), ``staging`` is dropped.
    Returns:
        False when ``replace`` is False and ``save_dir`` already existed, else True.
    Raises:
        FileExistsError: ``save_dir`` is a non-empty folder without our marker (``staging``
            is removed; ``save_dir`` is untouched).
    """
    if os.path.isdir(save_dir):
        if not replace:
            shutil.rmtree(staging, ignore_errors=True)
            return False
        previous = exported_files(save_dir)
        if previous is None and os.listdir(save_dir):
            shutil.rmtree(staging, ignore_errors=True)
            raise FileExistsError(f'{save_dir} exists and is not an export folder written by '
                                  f'paddlematting (no {EXPORT_MARKER}); nothing was replaced. '
                                  f'Choose an empty or new --save_dir.')
        if previous is None:  # empty: ours to use
            os.rmdir(save_dir)
        elif set(os.listdir(save_dir)) - set(previous) - {EXPORT_MARKER}:
            _replace_our_files(staging, save_dir, previous)
            return True
        else:
            # only our files: swap the whole folder, so readers never see a mix
            aside = tempfile.mkdtemp(prefix='.old-export-', dir=os.path.dirname(save_dir))
            os.rename(save_dir, os.path.join(aside, 'previous'))
            os.rename(staging, save_dir)
            shutil.rmtree(aside, ignore_errors=True)
            return True
    try:
        os.rename(staging, save_dir)
    except OSError:
        # a concurrent writer created save_dir between our check and the rename
        shutil.rmtree(staging, ignore_errors=True)
        if replace:
            raise
        return False
    return True

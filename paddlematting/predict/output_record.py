"""Which files in a folder earlier predictions wrote, so that a rerun never takes them as inputs.

``predict_images`` appends every file it writes to ``save_dir/.paddlematting-outputs.jsonl``
(one JSON line per file: its path relative to save_dir, size and modification time). When
``input_collection`` searches a folder for images, a file listed in such a record (in the
folder, below it or above it) whose size and time still match is an earlier output and is
left out; a file the user has since replaced or edited no longer matches, and is an input
again. The record only ever makes files be skipped: nothing is written or deleted because of
what it says.
"""
import json
import logging
import os
from typing import Dict, Iterable, List, Set, Tuple

__all__ = ['RECORD_NAME', 'OutputRecord', 'earlier_outputs']

logger = logging.getLogger(__name__)

RECORD_NAME = '.paddlematting-outputs.jsonl'
# a record lists a few hundred bytes per output; past this it is not ours, or not worth reading
MAX_RECORD_BYTES = 16 << 20

Stamp = Tuple[int, int]  # (size in bytes, st_mtime_ns)


def _stamp(path: str) -> Stamp:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def _read(record_path: str) -> Dict[str, Stamp]:
    """relative path -> stamp of the record's entries (the last entry of a path wins);
    unreadable lines (a run killed mid-line) and unsafe names are left out."""
    entries: Dict[str, Stamp] = {}
    try:
        if os.path.getsize(record_path) > MAX_RECORD_BYTES:
            return entries
        with open(record_path, encoding='utf-8', errors='replace') as f:
            lines = f.read().splitlines()
    except OSError:
        return entries
    for line in lines:
        try:
            entry = json.loads(line)
            name, size, mtime = entry['name'], entry['size'], entry['mtime_ns']
        except (ValueError, TypeError, KeyError):
            continue
        if (isinstance(name, str) and isinstance(size, int) and isinstance(mtime, int)
                and not os.path.isabs(name) and os.pardir not in name.split('/')):
            entries[name] = (size, mtime)
    return entries


def _recorded_in(folder: str) -> Dict[str, Stamp]:
    """absolute path -> stamp of what ``folder``'s record lists ({} without one)."""
    record_path = os.path.join(folder, RECORD_NAME)
    if not os.path.isfile(record_path):
        return {}
    return {os.path.normpath(os.path.join(folder, *name.split('/'))): stamp
            for name, stamp in _read(record_path).items()}


def earlier_outputs(root: str, folders: Iterable[str], files: Iterable[str]) -> Set[str]:
    """Of ``files`` (found under ``root`` in ``folders``), those that earlier predictions
    wrote and nobody changed since: listed, with the same size and time, in the record of
    one of ``folders`` or of a folder above ``root``."""
    recorded: Dict[str, Stamp] = {}
    above = os.path.abspath(root)
    while True:  # the records of the folders above: root may be inside an earlier save_dir
        recorded.update(_recorded_in(above))
        parent = os.path.dirname(above)
        if parent == above:
            break
        above = parent
    for folder in folders:
        recorded.update(_recorded_in(os.path.abspath(folder)))
    found = set()
    for path in files:
        stamp = recorded.get(os.path.normpath(os.path.abspath(path)))
        try:
            if stamp is not None and _stamp(path) == stamp:
                found.add(path)
        except OSError:
            continue
    return found


class OutputRecord:
    """The record of ``save_dir`` (see the module docstring), rewritten on opening without
    the entries whose files are gone or changed, then appended to as files are written."""

    def __init__(self, save_dir: str):
        self.save_dir = os.path.abspath(save_dir)
        self.path = os.path.join(self.save_dir, RECORD_NAME)
        if os.path.isfile(self.path):
            self._compact()

    def _compact(self) -> None:
        entries = _read(self.path)
        kept = {}
        for name, stamp in entries.items():
            try:
                if _stamp(os.path.join(self.save_dir, *name.split('/'))) == stamp:
                    kept[name] = stamp
            except OSError:
                continue
        tmp = f'{self.path}.tmp-{os.getpid()}'
        try:
            with open(tmp, 'w', encoding='utf-8') as f:
                f.writelines(_line(name, stamp) for name, stamp in kept.items())
            os.replace(tmp, self.path)
        except OSError as error:  # a read-only record: outputs are still written
            logger.debug('Could not rewrite %s: %s', self.path, error)
            if os.path.exists(tmp):
                os.remove(tmp)

    def add(self, paths: List[str]) -> None:
        """Record the files just written (paths under save_dir)."""
        lines = []
        for path in paths:
            rel = os.path.relpath(os.path.abspath(path), self.save_dir).replace(os.sep, '/')
            lines.append(_line(rel, _stamp(path)))
        try:
            with open(self.path, 'a', encoding='utf-8') as f:
                f.writelines(lines)
        except OSError as error:
            logger.warning('Could not record the outputs in %s (%s); a later run searching this '
                           'folder may take them as inputs.', self.path, error)


def _line(name: str, stamp: Stamp) -> str:
    return json.dumps({'name': name, 'size': stamp[0], 'mtime_ns': stamp[1]}) + '\n'

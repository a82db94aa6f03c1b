"""Find the images to predict and name their outputs.

Inputs are an image file, a folder (searched recursively) or a .txt/.lst list file, with
optional trimaps in the same forms. Every input ``REL/NAME.ext`` gets an output name
``REL/NAME`` (``predict.images`` appends ``_alpha.png``, ``_rgba.png``, ...), chosen so that
every output stays under save_dir and no two inputs write the same file:

- ``REL`` is the path relative to the searched folder, or to the list file's folder for
  list lines (absolute or relative); a list line outside that folder (``../x.jpg``,
  ``/data/x.jpg``) has no ``REL``: its outputs go straight into save_dir.
- When inputs that differ only in their extension would share ``REL/NAME`` (``a.jpg``
  and ``a.png``), each keeps its extension: ``a.jpg_alpha.png`` and ``a.png_alpha.png``.
- Any name still taken (the same file listed twice, ``x.jpg`` from two outside folders)
  gets ``-2``, ``-3``, ... in input order: ``x_alpha.png``, ``x-2_alpha.png``.
Names are compared ignoring case, so they stay distinct on case-insensitive file systems.

Outputs never overwrite inputs nor become inputs: ``keep_outputs_apart`` gives ``-2``, ...
to an output name whose files would replace an input (save_dir = the image folder and an
input named ``x_alpha.png`` beside ``x.png``), and a folder search leaves out the files that
earlier predictions wrote there (``output_record``). Both say so in one log line.
"""
import logging
import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Set, Tuple

from ..pipeline.outputs import OutputOptions, output_paths
from ..video import VIDEO_EXTENSIONS, is_video
from .output_record import RECORD_NAME, earlier_outputs

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
LIST_EXTENSIONS = ('.txt', '.lst')


@dataclass
class InputImage:
    """One image to predict: its path and the names it is matched and saved under."""
    path: str
    rel_name: str  # relative path without extension, e.g. 'people/a' (matches trimaps)
    trimap_path: Optional[str] = None
    # where the outputs go, relative to save_dir, without the '_alpha.png' suffix; unique
    # among the inputs of one ``collect_inputs`` call (None: ``rel_name``)
    save_name: Optional[str] = None

    @property
    def output_name(self) -> str:
        """``save_name``, or ``rel_name`` when none was assigned."""
        return self.save_name or self.rel_name


def _is_image(path: str) -> bool:
    """An input file by its extension: an image, or a video (predicted frame by frame)."""
    return path.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)


def _strip_ext(rel_path: str) -> str:
    return os.path.splitext(rel_path)[0]


def _slashes(path: str) -> str:
    return path.replace(os.sep, '/')


def _name_in_list_folder(full: str, base: str) -> str:
    """``full`` relative to the list file's folder ``base``, or its file name when outside."""
    try:
        rel = os.path.relpath(full, base)
    except ValueError:  # another drive (Windows)
        return os.path.basename(full)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return os.path.basename(full)
    return rel


def collect_paths(path: str, what: str = '--image_path') -> List[Tuple[str, str]]:
    """Expand an image file, a folder (searched recursively) or a list file.

    Args:
        path: an image file; a folder; or a .txt/.lst file with one path per line
            (relative lines are taken from the list file's folder).
        what: the flag name used in error messages.

    Returns:
        (file path, relative path with extension, '/'-separated) pairs; folders in sorted
        order, list files in their own order. The relative path never leaves its folder:
        it is relative to the searched folder or the list file's folder, or else (a list
        line outside that folder, a single file) just the file name.
    """
    if os.path.isdir(path):
        return _search_folder(path, what)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what} {path!r} does not exist.')
    if path.lower().endswith(LIST_EXTENSIONS):
        base = os.path.dirname(os.path.abspath(path))
        with open(path, encoding='utf-8') as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith('#')]
        if not lines:
            raise ValueError(f'{what} list file {path!r} names no images.')
        pairs = []
        for line in lines:
            full = os.path.normpath(line if os.path.isabs(line) else os.path.join(base, line))
            pairs.append((full, _slashes(_name_in_list_folder(full, base))))
        return pairs
    return [(path, os.path.basename(path))]


def _search_folder(path: str, what: str) -> List[Tuple[str, str]]:
    """``collect_paths`` of a folder: its images in sorted order, earlier predictions'
    outputs left out (``output_record``; said in one line)."""
    found, folders = [], []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        folders.append(root)
        for name in sorted(files):
            if _is_image(name):
                full = os.path.join(root, name)
                found.append((full, _slashes(os.path.relpath(full, path))))
    earlier = earlier_outputs(path, folders, [full for full, _ in found])
    if earlier:
        logger.info('%s: leaving out %d files that earlier predictions wrote there (listed in '
                    'their %s); they are outputs, not inputs.', path, len(earlier), RECORD_NAME)
        found = [pair for pair in found if pair[0] not in earlier]
    if not found:
        skipped = f' (besides {len(earlier)} earlier outputs)' if earlier else ''
        raise FileNotFoundError(f'{what} {path!r} is a folder with no image or video files '
                                f'({", ".join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)}){skipped}.')
    return found


def _assign_save_names(images: List[InputImage], rel_paths: List[str]) -> None:
    """Give every input a distinct ``save_name`` (the rules are in the module docstring)."""
    def key(name: str) -> str:
        return name.casefold()

    stems = [_strip_ext(rel) for rel in rel_paths]
    extensions_per_stem: Dict[str, Set[str]] = {}
    for rel, stem in zip(rel_paths, stems):
        extensions_per_stem.setdefault(key(stem), set()).add(key(rel))
    taken: Set[str] = set()
    for item, rel, stem in zip(images, rel_paths, stems):
        name = rel if len(extensions_per_stem[key(stem)]) > 1 else stem
        candidate, number = name, 1
        while key(candidate) in taken:
            number += 1
            candidate = f'{name}-{number}'
        taken.add(key(candidate))
        item.save_name = candidate


def inputs_from_paths(pairs: List[Tuple[str, str]]) -> List[InputImage]:
    """(file path, relative path with extension) pairs, as ``collect_paths`` gives them (or a
    batch job lists them from any file system), -> inputs with distinct output names."""
    images = [InputImage(path, _strip_ext(rel)) for path, rel in pairs]
    _assign_save_names(images, [rel for _, rel in pairs])
    return images


def collect_inputs(image_path: str, trimap_path: Optional[str] = None,
                   flags: Tuple[str, str] = ('--image_path', '--trimap_path')) -> List[InputImage]:
    """The images to predict, each paired with its trimap when ``trimap_path`` is given.

    Trimaps are matched by relative name for folders (any image extension), by order for
    list files, and directly when both paths are single files. Every input gets a distinct
    ``save_name`` (see the module docstring). ``flags`` name the two paths in messages.
    """
    images = inputs_from_paths(collect_paths(image_path, flags[0]))
    if trimap_path is None:
        return images
    trimaps = collect_paths(trimap_path, flags[1])
    if os.path.isdir(trimap_path):
        by_name = {_strip_ext(rel): path for path, rel in trimaps}
        for item in images:
            item.trimap_path = by_name.get(item.rel_name)
    elif len(trimaps) == len(images):
        for item, (path, _) in zip(images, trimaps):
            item.trimap_path = path
    else:
        raise ValueError(f'{flags[1]} {trimap_path!r} gives {len(trimaps)} trimaps for '
                         f'{len(images)} images; give one per image (or a folder matched by name).')
    return images


def _file_key(path: str) -> str:
    return os.path.normcase(os.path.abspath(path)).casefold()


def keep_outputs_apart(images: List[InputImage], save_dir: str, options: OutputOptions,
                       other_inputs: Iterable[str] = ()) -> List[Tuple[str, str]]:
    """Rename outputs that would overwrite an input: with save_dir the image folder, the
    matte of ``x.png`` (``x_alpha.png``) must not replace an input named ``x_alpha.png``.

    Every input whose output files (``output_paths`` under ``options``) would be one of the
    inputs (the images, their trimaps, ``other_inputs`` such as the background file) or
    another input's output gets ``-2``, ``-3``, ... on its output name, the first that is
    free. Returns the ``(old name, new name)`` pairs, in input order (logged in one line).
    """
    protected = {_file_key(p) for p in other_inputs}
    for item in images:
        protected.add(_file_key(item.path))
        if item.trimap_path:
            protected.add(_file_key(item.trimap_path))
    taken: Set[str] = set()
    renamed = []
    for item in images:
        extension = '.mp4' if is_video(item.path) else '.png'

        def files(name: str) -> List[str]:
            return [_file_key(p) for p in output_paths(save_dir, name, options, extension).all()]

        name, number = item.output_name, 1
        while any(f in protected or f in taken for f in files(name)):
            number += 1
            name = f'{item.output_name}-{number}'
        if name != item.output_name:
            renamed.append((item.output_name, name))
            item.save_name = name
        taken.update(files(name))
    if renamed:
        shown = ', '.join(f'{old} -> {new}' for old, new in renamed[:5])
        more = f' and {len(renamed) - 5} more' if len(renamed) > 5 else ''
        logger.warning('%d inputs\' outputs would overwrite other inputs in %s, so they are '
                       'named apart: %s%s.', len(renamed), save_dir, shown, more)
    return renamed

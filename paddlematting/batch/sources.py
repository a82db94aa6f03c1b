"""Where a batch job's images come from and its files go: local paths or any URI pyarrow reads.

A source is a local folder (searched recursively), a local .txt/.lst list file, a single
image, or a URI with a scheme (``s3://bucket/photos``, ``gs://...``, ``file:///data``, ...)
that ``pyarrow.fs.FileSystem.from_uri`` opens: the file systems Ray Data itself reads
through. A URI folder is listed recursively for image files. Every input is named by
``predict.input_collection`` (``REL/NAME`` relative to the folder), so a job writes the same
relative names as predict.py.

Local paths are read and written by the same functions predict.py uses (``read_image``,
``pipeline.outputs.write_outputs``); URIs through pyarrow streams, each output under a
temporary name then moved to its name.
"""
import os
import uuid
from typing import List, Tuple

import numpy as np

from ..predict.input_collection import (IMAGE_EXTENSIONS, InputImage, collect_inputs,
                                        inputs_from_paths)

__all__ = ['is_uri', 'list_inputs', 'exists', 'read_image_at', 'write_bytes_at']


def is_uri(location: str) -> bool:
    """``scheme://...`` (s3, gs, hdfs, file, ...), as opposed to a local path."""
    return '://' in location


def _filesystem(uri: str):
    """(pyarrow FileSystem, path inside it) for a URI; ValueError naming it when unusable."""
    from pyarrow import fs
    try:
        return fs.FileSystem.from_uri(uri)
    except Exception as error:  # pyarrow raises ArrowInvalid / ArrowNotImplementedError / OSError
        raise ValueError(f'{uri}: pyarrow cannot open this location ({error})') from None


def _list_uri(uri: str) -> List[Tuple[str, str]]:
    """(URI of each image, path relative to ``uri``) under a URI folder or for one URI file."""
    from pyarrow import fs
    filesystem, root = _filesystem(uri)
    info = filesystem.get_file_info(root)
    if info.type == fs.FileType.NotFound:
        raise FileNotFoundError(f'--input {uri} does not exist.')
    if info.type == fs.FileType.File:
        return [(uri, info.base_name)]
    prefix = uri.rstrip('/') + '/'
    found = sorted(f.path for f in filesystem.get_file_info(fs.FileSelector(root, recursive=True))
                   if f.type == fs.FileType.File and f.path.lower().endswith(IMAGE_EXTENSIONS))
    if not found:
        raise FileNotFoundError(f'--input {uri} is a folder with no image files '
                                f'({", ".join(IMAGE_EXTENSIONS)}).')
    base = root.rstrip('/') + '/'
    return [(prefix + path[len(base):], path[len(base):]) for path in found]


def list_inputs(source: str) -> List[InputImage]:
    """The images of ``source`` (see the module docstring), each with its output name.

    Raises FileNotFoundError / ValueError (one line naming ``source``) when there are none.
    """
    if is_uri(source):
        return inputs_from_paths(_list_uri(source))
    return collect_inputs(source, None, ('--input', '--trimap'))


def exists(location: str) -> bool:
    """Whether the file at a local path or URI exists."""
    if not is_uri(location):
        return os.path.isfile(location)
    from pyarrow import fs
    filesystem, path = _filesystem(location)
    return filesystem.get_file_info(path).type == fs.FileType.File


def read_image_at(location: str) -> np.ndarray:
    """RGB uint8 [H, W, 3] of the image at a local path (predict.py's reader) or a URI."""
    if not is_uri(location):
        from ..utils.image_io import read_image
        return read_image(location)
    from ..api.image_types import decode_image_bytes
    filesystem, path = _filesystem(location)
    with filesystem.open_input_stream(path) as stream:
        return decode_image_bytes(stream.read(), location)


def write_bytes_at(uri: str, data: bytes) -> None:
    """Write ``data`` to a URI under a temporary sibling name, then move it to ``uri``."""
    filesystem, path = _filesystem(uri)
    folder, name = path.rsplit('/', 1) if '/' in path else ('', path)
    if folder:
        filesystem.create_dir(folder, recursive=True)
    temporary = f'{folder}/.{name}.{uuid.uuid4().hex[:8]}.tmp' if folder else f'.{name}.tmp'
    with filesystem.open_output_stream(temporary) as stream:
        stream.write(data)
    filesystem.move(temporary, path)

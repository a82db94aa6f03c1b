"""A batch job's per-image files: predict.py's names and contents, local or at a URI.

Names come from ``pipeline.outputs.output_paths`` (``NAME_alpha.png``, ``NAME_rgba.png``)
under the output names ``predict.input_collection`` gives, so a job's folder holds exactly
what ``predict.py --image_path SRC --save_dir DST`` would write. Local files go through
``pipeline.outputs.write_outputs`` (a temporary name, then a rename); URI ones are encoded
the same way and moved into place (``sources.write_bytes_at``).
"""
import os
from typing import List

from ..pipeline.outputs import MatteOutputs, OutputOptions, OutputPaths, output_paths, write_outputs
from .sources import exists, is_uri, write_bytes_at

__all__ = ['BATCH_OUTPUTS', 'output_location', 'planned_paths', 'is_done', 'write_image_outputs']

# what a job writes for every image: predict.py's defaults (the matte and the cut-out)
BATCH_OUTPUTS = OutputOptions()


def output_location(output: str, name: str) -> str:
    """``output/name`` for a local folder or a URI (URIs join with '/' on every system)."""
    return output.rstrip('/') + '/' + name if is_uri(output) else os.path.join(output, name)


def planned_paths(output: str, name: str) -> OutputPaths:
    """Where the input with output name ``name`` writes under the job's ``output``."""
    return output_paths(output.rstrip('/') if is_uri(output) else output, name, BATCH_OUTPUTS)


def is_done(paths: OutputPaths) -> bool:
    """Every file of one input exists (each appears whole or not at all)."""
    return all(exists(path) for path in paths.all())


def write_image_outputs(outputs: MatteOutputs, paths: OutputPaths, input_path: str) -> List[str]:
    """Write one image's files (the matte last, so that it marks the image done); returns them."""
    if not is_uri(paths.alpha):
        write_outputs(outputs, paths, input_path)
        return paths.all()
    from ..api.image_types import encode_png
    pairs = [(paths.rgba, outputs.rgba), (paths.composite, outputs.composite),
             (paths.alpha, outputs.alpha)]
    for path, array in pairs:
        if path is not None and array is not None:
            write_bytes_at(path, encode_png(array))
    return paths.all()

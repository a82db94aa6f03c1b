"""The errors a weights file can raise when it is read (see ``weights_io``).

Each message is one line that starts with the file's path and says what was wrong; the
command-line tools print it as it is and exit 2.
"""
from ..config.bounded_repr import short_repr  # re-exported: the readers import it from here

__all__ = ['WeightsFormatError', 'UnsafeWeightsError', 'WeightsLimitError', 'short_repr']


class WeightsFormatError(ValueError):
    """The file is not a readable weights file (truncated, foreign format, wrong structure)."""


class UnsafeWeightsError(WeightsFormatError):
    """The file asks for something a weights file never needs: a Python global outside the
    allowed set, a structured or object dtype, an array view outside its bytes, ...
    Nothing from the file has been called."""
    permanent = True  # downloading the file again cannot change the answer


class WeightsLimitError(WeightsFormatError):
    """The file would cost more memory or work than its size justifies (too many objects,
    too deep a nesting, shared references that expand, more decoded bytes than allowed)."""
    permanent = True

"""Getting a zoo model's weights: downloaded once into the checked cache
(``utils.download``), with one line saying where to put the file by hand when that fails."""
import os
from typing import Optional

from ..utils.download import DownloadError, cache_file_name, cache_home, is_url, split_checksum
from .catalog import ModelChoice

__all__ = ['cached_weights_path', 'fetch_weights']


def cached_weights_path(url: str) -> str:
    """Where the cache keeps (or will keep) the download of ``url`` (``#sha256=`` ignored)."""
    base, _ = split_checksum(url)
    return os.path.join(cache_home(), cache_file_name(base))


def fetch_weights(choice: ModelChoice) -> Optional[str]:
    """The local weights file for ``choice``: a URL is downloaded on first use, then read from
    the cache; a local path is returned as given; None when the model takes no weights file.

    Raises:
        DownloadError: one line naming the URL and the path to place the file at by hand.
        FileNotFoundError / WeightsFormatError: a local file that is missing or unreadable.
    """
    if choice.weights is None:
        return None
    from ..utils.pretrained import resolve_weights_path  # imports paddle: only when needed
    if not is_url(choice.weights):
        return resolve_weights_path(choice.weights)
    try:
        return resolve_weights_path(choice.weights)
    except DownloadError as error:
        url, _ = split_checksum(choice.weights)
        cause = ' '.join(str(error.__cause__ or error).split())
        raise DownloadError(
            f'{choice.label}: could not get the weights ({cause}); download {url} yourself and '
            f'place it at {cached_weights_path(url)}, or pass weights=FILE '
            f'(--weights FILE)') from error

"""DIS5K: the image + mask folder layout of dichotomous segmentation sets (DIS5K, and the
layout BiRefNet's own scripts read for every task)::

    <dataset_root>/<set>/im/<name>.jpg     the photos
    <dataset_root>/<set>/gt/<name>.png     their masks (same stem; 0..255, soft allowed)

The masks stand in for the alpha, so every matting model (and its losses) can train on such a
set, and BiRefNet can train on matting sets (``MattingDataset``) just as well.
"""
import os
from typing import Callable, List, Sequence, Union

import paddle

from ..config import manager
from ..transforms import Compose
from .matting_dataset import MODES, ListEntry, MattingDataset

__all__ = ['DIS5K']

_IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
_MASK_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp')


def _mask_for(mask_dir: str, image_name: str) -> str:
    """The mask of ``image_name`` in ``mask_dir`` (same stem, a common extension), or ''."""
    stem = os.path.splitext(image_name)[0]
    for ext in _MASK_EXTENSIONS:
        candidate = os.path.join(mask_dir, stem + ext)
        if os.path.isfile(candidate):
            return candidate
    return ''


@manager.DATASETS.add_component
class DIS5K(MattingDataset):
    """Image + mask samples from ``<dataset_root>/<set>/{im,gt}`` folders (see the module
    docstring). Samples are those of :class:`MattingDataset` in its PPM-100 layout (the
    photo is its own foreground and background; ``alpha`` is the mask in [0, 1]).

    Args:
        dataset_root: the folder holding the sets.
        transforms: the transforms, e.g. LoadImages, Resize, Normalize.
        mode: 'train', 'val' or 'trainval' (the latter two read the same ``sets``).
        sets: the set folders to read, e.g. ['DIS-TR'] or ['DIS-TE1', 'DIS-TE2'].
        image_dir, mask_dir: the folder names inside each set.
        get_trimap: provide trimaps made from the masks (for trimap-based models).
    """

    def __init__(self, dataset_root: str, transforms: Union[Sequence[Callable], Compose],
                 mode: str = 'train', sets: Sequence[str] = ('DIS-TR',), image_dir: str = 'im',
                 mask_dir: str = 'gt', get_trimap: bool = False):
        paddle.io.Dataset.__init__(self)
        if mode not in MODES:
            raise ValueError(f'DIS5K: mode must be one of {MODES}, got {mode!r}.')
        if not os.path.isdir(dataset_root):
            raise FileNotFoundError(f'DIS5K: dataset_root {dataset_root!r} is not a folder.')
        self.dataset_root = dataset_root
        self.transforms = transforms if isinstance(transforms, Compose) else Compose(list(transforms))
        self.mode, self.training = mode, mode in ('train', 'trainval')
        self.get_trimap = bool(get_trimap)
        self.entries: List[ListEntry] = []
        for name in ([sets] if isinstance(sets, str) else list(sets)):
            self.entries += self._read_set(name, image_dir, mask_dir)
        if not self.entries:
            raise ValueError(f'DIS5K: the sets {list(sets)} under {dataset_root} hold no images.')

    def _read_set(self, name: str, image_dir: str, mask_dir: str) -> List[ListEntry]:
        images = os.path.join(self.dataset_root, name, image_dir)
        masks = os.path.join(self.dataset_root, name, mask_dir)
        if not os.path.isdir(images):
            raise FileNotFoundError(f'DIS5K: {images} is not a folder (expected '
                                    f'<dataset_root>/<set>/{image_dir}/ with the images).')
        entries = []
        names = sorted(n for n in os.listdir(images) if n.lower().endswith(_IMAGE_EXTENSIONS))
        for number, image_name in enumerate(names, start=1):
            mask = _mask_for(masks, image_name)
            if not mask:
                raise FileNotFoundError(f'DIS5K: no mask for {os.path.join(images, image_name)}; '
                                        f'expected {os.path.splitext(image_name)[0]}.png in {masks}.')
            rel = os.path.join(name, image_dir, image_name)
            entries.append(ListEntry(images, number, rel, os.path.join(images, image_name),
                                     mask, None, None))
        return entries

"""PaddleSeg's dataset names for the Composition-1k and Distinctions-646 benchmarks.

Both are the Composition-1k list layout (``fg bg [trimap]`` lines, see
:class:`MattingDataset`); the names exist so configs that use them run unchanged.
"""
from ..config import manager
from .matting_dataset import MattingDataset

__all__ = ['Composition1K', 'Distinctions646']


@manager.DATASETS.add_component
class Composition1K(MattingDataset):
    """Adobe Composition-1k (Xu et al., Deep Image Matting): a :class:`MattingDataset`."""


@manager.DATASETS.add_component
class Distinctions646(MattingDataset):
    """Distinctions-646 (Qiao et al., HAttMatting): a :class:`MattingDataset`."""

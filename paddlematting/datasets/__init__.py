"""Datasets: importing this package registers MattingDataset (and its benchmark names
Composition1K, Distinctions646) in ``manager.DATASETS``."""
from .benchmark_sets import Composition1K, Distinctions646
from .collate import collate_samples
from .composition import composite_on_background, fit_background
from .matting_dataset import ListEntry, MattingDataset
from .trimap import eval_trimap, random_trimap, trimap_from_alpha

__all__ = ['MattingDataset', 'Composition1K', 'Distinctions646', 'ListEntry', 'collate_samples',
           'composite_on_background', 'fit_background', 'eval_trimap', 'random_trimap',
           'trimap_from_alpha']

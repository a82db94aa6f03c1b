"""Datasets: importing this package registers MattingDataset in ``manager.DATASETS``."""
from .collate import collate_samples
from .composition import composite_on_background, fit_background
from .matting_dataset import ListEntry, MattingDataset
from .trimap import eval_trimap, random_trimap, trimap_from_alpha

__all__ = ['MattingDataset', 'ListEntry', 'collate_samples', 'composite_on_background',
           'fit_background', 'eval_trimap', 'random_trimap', 'trimap_from_alpha']

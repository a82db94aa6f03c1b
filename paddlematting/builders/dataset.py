"""The datasets and transform chains a config describes.

Dataset roots stay relative to the current directory, as in PaddleSeg.
"""
from typing import Any, List, Sequence

from ..config import ConfigError, build_component, check_component, manager
from ..transforms.compose import Compose

__all__ = ['build_dataset', 'build_val_transforms', 'build_transforms']


def build_dataset(cfg: Any, key: str) -> Any:
    """Build ``cfg``'s ``train_dataset`` or ``val_dataset`` section (``key``) through the
    DATASETS registry. ``cfg`` gives ``path`` and the section (a ``Config``); raises
    ConfigError naming the key when the section is missing or wrong."""
    section = cfg.train_dataset_config if key == 'train_dataset' else cfg.val_dataset_config
    if 'type' not in section:
        # e.g. RVM's config: a val_dataset of transforms only, for predict.py
        held = ', '.join(f'"{k}"' for k in section) or 'nothing'
        raise ConfigError(f'{cfg.path}: key "{key}.type" is missing: "{key}" holds only {held}, '
                          f'no dataset; add a dataset (e.g. type: MattingDataset, dataset_root, '
                          f'{"train_file" if key == "train_dataset" else "val_file"}), with '
                          f'--opts or in the config')
    return build_component(section, key, cfg.path, manager.DATASETS)


def build_val_transforms(cfg: Any) -> list:
    """The val dataset's transforms, built (what a predictor prepares images with).

    The dataset itself is not built (its root may not exist where one predicts), but its
    argument names and simple types are checked, so ``val_dataset.transfroms`` is reported
    instead of silently meaning "no transforms".
    """
    section = cfg.val_dataset_config
    if 'type' in section:
        check_component(section, 'val_dataset', cfg.path, manager.DATASETS)
    return build_component(section.get('transforms', []), 'val_dataset.transforms', cfg.path)


def build_transforms(transform_dicts: Sequence[dict], source: str = '<transforms>') -> Compose:
    """A Compose from ``[{'type': name, **args}, ...]`` (a config's or deploy.yaml's list);
    ``source`` names the file in error messages."""
    transforms: List[Any] = build_component(list(transform_dicts), 'transforms', source)
    return Compose(transforms)

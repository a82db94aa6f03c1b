"""Compose: run a list of transforms, then lay the sample out as the networks expect."""
from typing import Callable, Dict, List, Union

import numpy as np

from ..config import manager
from .sample_fields import COLOUR_KEYS, FIELD_KEYS, spatial_keys


def _to_chw_float32(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return image[None]
    return np.ascontiguousarray(image.transpose(2, 0, 1))


def _to_1hw_float32(label_map: np.ndarray) -> np.ndarray:
    label_map = np.asarray(label_map, dtype=np.float32)
    if label_map.ndim == 3:
        label_map = label_map[:, :, 0]
    return np.ascontiguousarray(label_map[None])


@manager.TRANSFORMS.add_component
class Compose:
    """Apply transforms in order to a sample dict, then convert it to network layout.

    Before the transforms run, ``gt_fields`` is completed with every key of
    ``('alpha', 'trimap', 'fg', 'bg')`` the sample holds, and ``trans_info`` is created, so a
    bare ``{'img': array, 'trimap': array}`` can be prepared too. After them:
    ``img``, ``fg``, ``bg`` become float32 [3, H, W]; ``alpha`` float32 [1, H, W] in [0, 1]
    (divided by 255); ``trimap`` float32 [1, H, W] in {0, 128, 255}. Other keys (``ori_*``,
    ``img_name``, ``trans_info``) pass through untouched.

    Args:
        transforms: callables taking and returning the sample dict (a transform returning
            None drops the sample and Compose returns None). Colour order is LoadImages'
            ``to_rgb``.
    """

    def __init__(self, transforms: List[Callable]):
        if isinstance(transforms, Compose):
            transforms = transforms.transforms
        if not isinstance(transforms, (list, tuple)):
            raise TypeError(f'Compose expects a list of transforms, got '
                            f'{type(transforms).__name__}.')
        for i, op in enumerate(transforms):
            if not callable(op):
                raise TypeError(f'Compose: transforms[{i}] ({op!r}) is not callable; build it '
                                f'from its config dict first.')
        self.transforms = list(transforms)

    def __call__(self, data: Dict) -> Union[Dict, None]:
        if 'img' not in data:
            raise KeyError("Compose: the sample dict has no 'img' key.")
        fields = list(data.get('gt_fields', []))
        fields += [k for k in FIELD_KEYS if k in data and k not in fields]
        data['gt_fields'] = fields
        data.setdefault('trans_info', [])
        for op in self.transforms:
            data = op(data)
            if data is None:
                return None
        for key in spatial_keys(data):
            if key in COLOUR_KEYS:
                data[key] = _to_chw_float32(data[key])
            elif key == 'alpha':
                data[key] = _to_1hw_float32(data[key]) / np.float32(255.0)
            elif key == 'trimap':
                data[key] = _to_1hw_float32(data[key])
        return data

    def __repr__(self):
        return f'Compose({self.transforms!r})'

"""collate_samples: the DataLoader collate_fn that batches sample dicts."""
from numbers import Number
from typing import Dict, List

import numpy as np

# per-sample bookkeeping: kept as python lists (one entry per sample), never stacked
LIST_KEYS = ('trans_info', 'img_name', 'gt_fields')


def _keep_as_list(key: str, value) -> bool:
    return key in LIST_KEYS or key.startswith('ori_') or not isinstance(value, (np.ndarray, Number))


def collate_samples(samples: List[Dict]) -> Dict:
    """Batch a list of sample dicts.

    Numeric arrays (img, alpha, trimap, fg, bg, ...) are stacked into numpy [N, ...] arrays;
    ``trans_info``, ``img_name``, ``gt_fields``, every ``ori_*`` key and anything non-numeric
    stay python lists with one entry per sample.

    Through ``paddle.io.DataLoader`` (any num_workers) the stacked arrays arrive as paddle
    Tensors, and so do numpy arrays inside the lists (``ori_alpha[i]`` is a Tensor
    [H0, W0] uint8, ``np.asarray`` turns it back); strings and numbers stay python objects,
    and the (op, (h, w)) tuples of trans_info arrive as lists.
    """
    if not samples:
        raise ValueError('collate_samples received an empty list of samples.')
    keys = list(samples[0].keys())
    for i, sample in enumerate(samples[1:], start=1):
        if set(sample.keys()) != set(keys):
            raise ValueError(f'collate_samples: sample {i} has keys {sorted(sample.keys())} but '
                             f'sample 0 has {sorted(keys)}; all samples of a batch need the '
                             f'same keys.')
    batch = {}
    for key in keys:
        values = [sample[key] for sample in samples]
        if _keep_as_list(key, values[0]):
            batch[key] = values
            continue
        shapes = {np.shape(v) for v in values}
        if len(shapes) > 1:
            raise ValueError(f"collate_samples: cannot stack '{key}' of shapes {sorted(shapes)}; "
                             f"give every sample one size (crop/resize/pad) or use batch size 1.")
        batch[key] = np.stack([np.asarray(v) for v in values])
    return batch

"""VisualDL logging for training: scalars every log interval, pictures at each evaluation.

``VdlLog(None)`` is a do-nothing stand-in, so the trainer never branches on --use_vdl.
"""
from typing import Dict, List, Optional

import numpy as np


class VdlLog:
    """Write scalars and images to a VisualDL log folder (or nowhere when ``logdir`` is None)."""

    def __init__(self, logdir: Optional[str]) -> None:
        self._writer = None
        if logdir is not None:
            from visualdl import LogWriter  # imported only when asked for: it is slow to load
            self._writer = LogWriter(logdir=logdir)

    def scalars(self, prefix: str, values: Dict[str, float], step: int) -> None:
        """Log each value under the tag ``prefix/name``."""
        if self._writer is None:
            return
        for name, value in values.items():
            self._writer.add_scalar(tag=f'{prefix}/{name}', value=float(value), step=step)

    def eval_examples(self, examples: List[Dict[str, object]], step: int) -> None:
        """Log input, predicted alpha and ground truth of each evaluation example.

        Args:
            examples: dicts with ``img_name``, ``input`` uint8 [H,W,3], ``pred`` and ``gt``
                uint8 [H,W] (as ``EvalResult.examples`` holds them).
        """
        if self._writer is None:
            return
        for i, example in enumerate(examples):
            for key in ('input', 'pred', 'gt'):
                picture = np.asarray(example[key], dtype=np.uint8)
                if picture.ndim == 2:
                    picture = np.repeat(picture[:, :, None], 3, axis=2)
                self._writer.add_image(tag=f'Eval/{i}_{key}', img=picture, step=step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

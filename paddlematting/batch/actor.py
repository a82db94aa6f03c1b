"""The Ray Data actor: loads the model once, then mattes every batch of images it is handed.

Ray Data turns ``MattingActor`` (a callable class given to ``Dataset.map_batches``) into
``concurrency`` long-lived actors; each builds the model in ``__init__`` through
``predict.loaded_model.LoadedModel`` (zoo name or config + weights, either backend) and runs
``predict.predict_image`` on every image, the same prepare -> run -> restore as predict.py.

Threads and devices are set before Paddle is first imported in the actor's process:
- CPU: ``threads_environment(n)`` gives ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` =
  ``n`` = cluster CPUs // actors; the job passes it as the actor's ``runtime_env`` and
  reserves ``num_cpus=n`` per actor, so Ray never places more actors x threads on a
  node than it has cores.
- GPU: the job asks ``num_gpus=1`` per actor; Ray then sets ``CUDA_VISIBLE_DEVICES`` to the
  card it assigned, which the process sees as ``gpu:0``, and ``utils.device.resolve_device
  ('gpu')`` calls ``paddle.set_device('gpu:0')``. This is Ray's documented way of giving an
  actor a GPU; it cannot run on this project's CPU-only test machine and is untested here.

An image that cannot be read or predicted is a row with status ``error`` and its message;
the other images of the batch go on.
"""
import os
from typing import Dict, Optional

__all__ = ['STATUSES', 'threads_environment', 'MattingActor']

# ok: written by this run; skipped: its files existed; error: see the row's error
STATUSES = ('ok', 'skipped', 'error')
_THREAD_VARIABLES = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS')


def threads_environment(threads: int) -> Dict[str, str]:
    """The environment variables that bound one actor's math libraries to ``threads``."""
    return {name: str(threads) for name in _THREAD_VARIABLES}


def one_line(error: BaseException) -> str:
    """``Type: message`` of an error on one line (manifest cells stay one line)."""
    text = ' '.join(str(error).split()) or type(error).__name__
    return text if isinstance(error, (OSError, ValueError)) else f'{type(error).__name__}: {text}'


class MattingActor:
    """``__call__`` maps a batch of (input, output name) rows to manifest rows."""

    def __init__(self, model: str, weights: Optional[str], output: str, device: str = 'cpu',
                 backend: str = 'dygraph'):
        from ..predict.loaded_model import LoadedModel, RunSettings
        from ..zoo import resolve_model
        self.output = output
        self.model = LoadedModel(resolve_model(model, weights), RunSettings(device, backend))

    def _one(self, path: str, name: str) -> dict:
        from ..predict.images import predict_image
        from .outputs import BATCH_OUTPUTS, planned_paths, write_image_outputs
        from .sources import read_image_at
        paths = planned_paths(self.output, name)
        try:
            image = read_image_at(path)
            outputs = predict_image(self.model.runner, image, transforms=self.model.transforms,
                                    options=BATCH_OUTPUTS)
            return {'input': path, 'status': 'ok',
                    'outputs': write_image_outputs(outputs, paths, path), 'error': None}
        except Exception as error:  # a poisoned image is reported, the batch goes on
            return {'input': path, 'status': 'error', 'outputs': [], 'error': one_line(error)}

    def __call__(self, batch):
        """batch: a pyarrow Table with string columns ``input``, ``name`` -> a Table of
        ``MANIFEST_SCHEMA``, one row per image."""
        from .manifest import rows_to_table
        paths, names = batch.column('input').to_pylist(), batch.column('name').to_pylist()
        return rows_to_table([self._one(path, name) for path, name in zip(paths, names)])

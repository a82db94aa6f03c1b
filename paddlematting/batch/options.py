"""``BatchOptions``: everything a batch job is told, in one object (CLI flags or Python)."""
from dataclasses import dataclass
from typing import Optional

from ..predict.loaded_model import BACKENDS

__all__ = ['BatchOptions', 'MANIFEST_NAME']

MANIFEST_NAME = 'manifest.parquet'


def _positive(name: str, value: Optional[int]) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f'{name} must be a whole number >= 1, got {value!r}.')


@dataclass(frozen=True)
class BatchOptions:
    """One batch job.

    Attributes:
        input: a local folder / list file / image, or a URI pyarrow opens (``s3://...``).
        output: the output folder (local or URI); gets predict.py's files under the inputs'
            relative names, and ``manifest.parquet``.
        model: a zoo name or a config path.
        weights: a weights file/URL replacing the zoo's (or the config's) weights.
        address: a Ray cluster to join (``ray://host:10001``, ``host:6379`` or ``auto``);
            None starts a local Ray on this machine.
        concurrency: model actors (each loads the model once); None: one per GPU with
            ``gpus``, else one per CPU of the cluster, each with one thread (each actor
            holds its model: lower it for big models on many cores).
        batch_size: images handed to an actor at a time (the unit that is retried when an
            actor dies).
        gpus: give each actor one GPU (Ray's ``num_gpus=1``); Paddle then runs on the card
            Ray assigned.
        backend: 'dygraph' or 'inference' (``predict.loaded_model.BACKENDS``).
        retries: how often a batch is retried after its actor died (and how often an actor
            is restarted).
        overwrite: redo inputs whose outputs exist (default: skip them).
        show_progress: Ray Data's progress bars and the final line.
    """
    input: str
    output: str
    model: str
    weights: Optional[str] = None
    address: Optional[str] = None
    concurrency: Optional[int] = None
    batch_size: int = 8
    gpus: bool = False
    backend: str = 'dygraph'
    retries: int = 3
    overwrite: bool = False
    show_progress: bool = True

    def __post_init__(self) -> None:
        _positive('concurrency', self.concurrency)
        _positive('batch_size', self.batch_size)
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f'retries must be a whole number >= 0, got {self.retries!r}.')
        if self.backend not in BACKENDS:
            raise ValueError(f'backend must be one of {", ".join(BACKENDS)}, got {self.backend!r}.')

"""Which training sample comes when, and with which augmentation randomness.

Two things make a run reproducible and resumable at any iteration, whatever the number
of loader workers or processes:

* ``ResumableBatchSampler`` shuffles each epoch from (seed, epoch), splits batches across
  ranks like ``paddle.io.DistributedBatchSampler`` and can start part-way into an epoch.
  It yields ``(epoch, index)`` keys instead of bare indices.
* ``SeededSamples`` turns each key into a sample after seeding python's and numpy's global
  generators from (seed, epoch, index), so a sample's random crop/flip/blur is a pure
  function of those three numbers, not of which thread or worker loaded it first.

``iterate_batches`` turns a dataset and a batch sampler into collated batches.
"""
import random
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import paddle

from ..datasets.collate import collate_samples
from .runtime import IgnoreSigintInWorker
from .sample_errors import (ReportingDataset, SampleError, SurfacingLoader, describe_failure,
                            make_error_dir)

SampleKey = Tuple[int, int]


def derived_seed(*numbers: int) -> int:
    """A well-mixed 32-bit seed from a tuple of non-negative integers."""
    return int(np.random.SeedSequence([int(n) for n in numbers]).generate_state(1)[0])


class SeededSamples(paddle.io.Dataset):
    """A training dataset addressed by ``(epoch, index)`` keys with per-sample seeding.

    Args:
        dataset: the wrapped map-style dataset (returns sample dicts).
        seed: the run's sample seed (non-negative int).
    """

    def __init__(self, dataset: paddle.io.Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: SampleKey) -> dict:
        epoch, index = key
        sample_seed = derived_seed(self.seed, epoch, index)
        random.seed(sample_seed)
        np.random.seed(sample_seed)
        return self.dataset[index]


class ResumableBatchSampler(paddle.io.DistributedBatchSampler):
    """Per-rank batches of ``(epoch, index)`` keys; call ``start`` before each epoch.

    Shuffling follows (seed, epoch) instead of the epoch alone, and ``start(epoch,
    skip_batches)`` skips the batches an interrupted run already trained on, without
    loading them.

    Args:
        dataset: the training dataset (only its length is used).
        batch_size: samples per rank and step.
        seed: the run's sample seed.
        shuffle: shuffle every epoch (True for training).
        num_replicas, rank: the process count and this rank; None reads them from the
            launch environment.
    """

    def __init__(self, dataset: paddle.io.Dataset, batch_size: int, seed: int,
                 shuffle: bool = True, num_replicas: Optional[int] = None,
                 rank: Optional[int] = None) -> None:
        super().__init__(dataset, batch_size=batch_size, num_replicas=num_replicas, rank=rank,
                         shuffle=shuffle, drop_last=True)
        self.seed = int(seed)
        self.current_epoch = 0
        self.skip_batches = 0

    def start(self, epoch: int, skip_batches: int = 0) -> None:
        """Make the next iteration yield epoch ``epoch`` from batch ``skip_batches`` on."""
        self.current_epoch = epoch
        self.skip_batches = skip_batches
        # the parent shuffles with RandomState(self.epoch); mixing in the seed makes runs
        # with different seeds see different orders
        self.set_epoch(derived_seed(self.seed, epoch))

    def __iter__(self) -> Iterator[List[SampleKey]]:
        for position, batch in enumerate(super().__iter__()):
            if position >= self.skip_batches:
                yield [(self.current_epoch, index) for index in batch]


def iterate_batches(dataset: paddle.io.Dataset, batch_sampler: paddle.io.BatchSampler,
                    num_workers: int = 0,
                    worker_init_fn: Optional[Callable[[int], None]] = None
                    ) -> Iterable[Dict[str, Any]]:
    """Collated batches of ``dataset`` in ``batch_sampler`` order.

    With worker processes this is a ``paddle.io.DataLoader`` (arrays arrive as Tensors)
    whose workers ignore SIGINT (``runtime.IgnoreSigintInWorker``, then ``worker_init_fn``)
    so Ctrl-C reaches only the main process, which stops cleanly.
    Without, batches are read in the calling thread (arrays stay numpy): paddle's
    single-process loader reads in a helper thread whose exceptions never reach the
    caller, which then waits forever; here a bad sample raises where it can be seen.
    """
    if num_workers > 0:
        # a bad sample then fails with its own message, not "Blocking queue is killed"
        error_dir = make_error_dir()
        loader = paddle.io.DataLoader(ReportingDataset(dataset, error_dir),
                                      batch_sampler=batch_sampler,
                                      num_workers=num_workers, collate_fn=collate_samples,
                                      return_list=True,
                                      worker_init_fn=IgnoreSigintInWorker(worker_init_fn))
        return SurfacingLoader(loader, error_dir)
    return _BatchesInThisThread(dataset, batch_sampler)


class _BatchesInThisThread:
    """Re-iterable: every ``iter()`` walks the batch sampler anew."""

    def __init__(self, dataset, batch_sampler):
        self.dataset, self.batch_sampler = dataset, batch_sampler

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self):
        for keys in self.batch_sampler:
            yield collate_samples([_load_sample(self.dataset, key) for key in keys])


def _load_sample(dataset, key):
    """``dataset[key]``; a failure becomes a SampleError naming the sample (and its cause)."""
    try:
        return dataset[key]
    except Exception as error:
        raise SampleError(describe_failure(key, error)) from error

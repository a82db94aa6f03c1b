"""Batch matting on Ray Data: every image of a folder, list or URI, in actors that load the
model once; resumable, with a manifest.

    from paddlematting.batch import BatchOptions, run_batch
    summary = run_batch(BatchOptions(input='photos/', output='mattes/', model='modnet'))

``paddlematting batch --input SRC --output DST --model NAME`` is the same from the shell.
Needs the ``ray`` extra (``pip install paddlematting[ray]``); Ray is imported only when a job
runs.
"""
from .job import BatchSummary, run_batch
from .options import MANIFEST_NAME, BatchOptions

__all__ = ['BatchOptions', 'BatchSummary', 'MANIFEST_NAME', 'run_batch']

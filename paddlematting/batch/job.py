"""``run_batch(BatchOptions)``: matte every image of a source on Ray Data, resumably.

1. List the inputs (``sources.list_inputs``) and name them as predict.py does.
2. Skip the inputs whose files all exist (a rerun or a resumed job redoes nothing that is
   done; ``overwrite`` redoes them).
3. Run the rest through ``Dataset.map_batches(MattingActor, concurrency=N)``: N actors each
   load the model once; an actor that dies is restarted and its batch retried
   (``max_restarts`` / ``max_task_retries`` = ``retries``); an image that fails is a row with
   its error, not a failed job.
4. Write ``manifest.parquet`` (``batch.manifest``) and log ``N images in T s (X images/s),
   F failed``.

With no ``address`` the job starts a local Ray (and stops it at the end); with one it joins
that cluster. A Ray already initialised in this process is used as it is. Ray's own log lines
stay out of the output (``log_to_driver=False``, its loggers at WARNING); its progress bars stay.
"""
import logging
import os
import time
import warnings
from dataclasses import dataclass
from typing import List, Tuple

from .manifest import rows_to_table, write_manifest
from .options import MANIFEST_NAME, BatchOptions
from .outputs import is_done, output_location, planned_paths
from .sources import is_uri, list_inputs

__all__ = ['BatchSummary', 'run_batch']

logger = logging.getLogger(__name__)
_RAY_LOGGERS = ('ray', 'ray.data')
_RAY_PROGRESS_LOGGER = 'ray.data._internal.progress'


@dataclass(frozen=True)
class BatchSummary:
    """What one job did: counts of each status, seconds spent, where the manifest is."""
    written: int
    skipped: int
    failed: int
    seconds: float
    manifest: str

    def line(self) -> str:
        """``N images in T s (X images/s), F failed`` (N: the images this run processed)."""
        done = self.written + self.failed
        rate = done / self.seconds if self.seconds > 0 else 0.0
        skipped = f'; {self.skipped} already done' if self.skipped else ''
        return (f'{done} images in {self.seconds:.1f} s ({rate:.2f} images/s), '
                f'{self.failed} failed{skipped}')


def _check_model(options: BatchOptions) -> None:
    """Fail before Ray starts on a bad model name, a missing config or weights, or a trimap
    model (a batch job has no trimaps)."""
    from ..predict.loaded_model import declares_trimap
    from ..zoo import fetch_weights, resolve_model
    choice = resolve_model(options.model, options.weights)
    if declares_trimap(choice):
        raise ValueError(f'--model {options.model} needs a trimap for every image; batch runs '
                         f'trimap-free models (paddlematting models lists their tasks)')
    fetch_weights(choice)  # downloaded once here; actors on this machine find it cached


def _plan(options: BatchOptions) -> Tuple[List[dict], List[dict]]:
    """(rows to run {input, name}, manifest rows of the inputs already done)."""
    todo, done = [], []
    for item in list_inputs(options.input):
        paths = planned_paths(options.output, item.output_name)
        if not options.overwrite and is_done(paths):
            done.append({'input': item.path, 'status': 'skipped', 'outputs': paths.all(),
                         'error': None})
        else:
            todo.append({'input': item.path, 'name': item.output_name})
    return todo, done


def _quiet_ray_loggers() -> None:
    """Ray's INFO lines (execution plans, log folders) out; its progress reports kept (bars
    on a terminal, a periodic summary line otherwise)."""
    for name in _RAY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger(_RAY_PROGRESS_LOGGER).setLevel(logging.INFO)


def _start_ray(address):
    """Initialise Ray (joining ``address``, else a local one); True when this call started it."""
    import ray
    if ray.is_initialized():
        return False
    ray.init(address=address or 'local', log_to_driver=False, logging_level=logging.ERROR,
             include_dashboard=False if address is None else None)
    return True


def _actor_resources(options: BatchOptions, blocks: int) -> dict:
    """``map_batches``' actor arguments: N actors x T threads = the cluster's CPUs (GPU: one
    card per actor), restarts and retries."""
    import ray
    from .actor import threads_environment
    resources = ray.cluster_resources()
    cpus = max(1, int(resources.get('CPU', 1)))
    gpus = int(resources.get('GPU', 0))
    if options.gpus and gpus < 1:
        raise RuntimeError('--gpus was asked for, but the Ray cluster has no GPU')
    # one single-thread actor per core: benchmarks/bench_batch.py measured 2 x 1 thread at 2x
    # the images/s of 1 x 2 threads (dygraph uses a second thread poorly on photo-sized inputs)
    concurrency = options.concurrency or (gpus if options.gpus else cpus)
    concurrency = min(concurrency, blocks)  # an actor with no block to run only costs memory
    threads = max(1, cpus // concurrency)
    return {'compute': ray.data.ActorPoolStrategy(size=concurrency), 'num_cpus': threads,
            'num_gpus': 1 if options.gpus else None,
            'runtime_env': {'env_vars': threads_environment(threads)},
            # Ray Data's default is endless restarts and retries: an image that kills its
            # actor every time would then never end the job
            'max_restarts': options.retries, 'max_task_retries': options.retries}


def _run_actors(todo: List[dict], options: BatchOptions):
    """The manifest rows (a pyarrow Table) of every input in ``todo``, run in Ray actors."""
    import pyarrow as pa
    import ray
    from .actor import MattingActor
    _quiet_ray_loggers()
    ray.data.DataContext.get_current().enable_progress_bars = options.show_progress
    blocks = -(-len(todo) // options.batch_size)  # one block per actor call
    dataset = ray.data.from_items(todo, override_num_blocks=blocks)
    with warnings.catch_warnings():
        # Ray 2.60 names max_restarts / max_task_retries "ray_remote_args", deprecated for
        # 2.64, with no named replacement yet (setup.py pins ray below 2.64)
        warnings.simplefilter('ignore', DeprecationWarning)
        results = dataset.map_batches(
            MattingActor, batch_size=options.batch_size, batch_format='pyarrow',
            fn_constructor_kwargs={'model': options.model, 'weights': options.weights,
                                   'output': options.output,
                                   'device': 'gpu' if options.gpus else 'cpu',
                                   'backend': options.backend},
            **_actor_resources(options, blocks))
    return pa.concat_tables(list(results.iter_batches(batch_format='pyarrow', batch_size=None)))


def run_batch(options: BatchOptions) -> BatchSummary:
    """Run one batch job (see the module docstring); returns what it did.

    Raises FileNotFoundError / ValueError (one line) for an unusable source or model, before
    any actor starts; image failures are in the manifest, not raised.
    """
    import pyarrow as pa
    started = time.perf_counter()
    if not is_uri(options.output):
        os.makedirs(options.output, exist_ok=True)
    todo, done = _plan(options)
    table = rows_to_table(done)
    if todo:
        _check_model(options)
        started_ray = _start_ray(options.address)
        try:
            table = pa.concat_tables([_run_actors(todo, options), table])
        finally:
            if started_ray:
                import ray
                ray.shutdown()
    manifest = output_location(options.output, MANIFEST_NAME)
    write_manifest(table, manifest)
    statuses = table.column('status').to_pylist()
    summary = BatchSummary(written=statuses.count('ok'), skipped=statuses.count('skipped'),
                           failed=statuses.count('error'), seconds=time.perf_counter() - started,
                           manifest=manifest)
    if options.show_progress:
        logger.info(summary.line())
    return summary

"""Where the run happens: device choice, process group, seeds and random-number states.

Everything here is about the process, not about matting, so the trainer, the evaluator
and the command-line tools all pick devices and ranks the same way.
"""
import logging
import os
import platform
import random
import signal
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import paddle
import paddle.distributed as dist

# the device choice lives below the apps (predict uses it too); the runtime re-exports it
from ..utils.device import DEVICES, gpu_available, local_rank, resolve_device  # noqa: F401
from .worker_guard import defer_sigterm, die_with_parent

logger = logging.getLogger(__name__)

def world_size() -> int:
    """Number of training processes (1 unless started by paddle.distributed.launch)."""
    return int(os.environ.get('PADDLE_TRAINERS_NUM', '1'))


def global_rank() -> int:
    """This process's rank in [0, world_size)."""
    return int(os.environ.get('PADDLE_TRAINER_ID', '0'))


def is_main_process() -> bool:
    """True on the process that logs, evaluates and saves (rank 0)."""
    return global_rank() == 0


def init_distributed() -> int:
    """Join the process group when launched with several processes; return world size.

    On CPU paddle picks the gloo backend by itself; on GPU, NCCL.
    """
    size = world_size()
    if size > 1 and not dist.is_initialized():
        dist.init_parallel_env()
    return size


class IgnoreSigintInWorker:
    """A DataLoader ``worker_init_fn`` that makes the worker ignore SIGINT, defer SIGTERM and
    die with its trainer (``worker_guard``), then runs ``inner``.

    Ctrl-C in a terminal sends SIGINT to the whole process group, loader workers included.
    A worker that died of it would make the main process fail mid-step; ignoring it there
    lets the main process finish the step and save. Workers still end with the main process.

    Args:
        inner: another ``worker_init_fn(worker_id)`` to run afterwards, or None.
    """

    def __init__(self, inner: Optional[Callable[[int], None]] = None) -> None:
        self.inner = inner
        self.parent_pid = os.getpid()  # pickled into the worker: the trainer's pid

    def __call__(self, worker_id: int) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # the worker dies with the trainer and outlives a launcher's SIGTERM to the group
        # until the trainer has saved (see worker_guard)
        die_with_parent(self.parent_pid)
        defer_sigterm()
        if self.inner is not None:
            self.inner(worker_id)


def seed_everything(seed: int) -> None:
    """Seed python's, numpy's and paddle's global generators with one integer."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    paddle.seed(seed)


def _paddle_rng_state_as_data() -> List[list]:
    """Paddle's generator states (one per device) as plain JSON data.

    ``paddle.get_rng_state()`` returns opaque ``GeneratorState`` objects, not tensors; their
    pickle state (``__getstate__``) is a tuple of ints and a list of ints (the Mersenne
    Twister state as text bytes), which is stored as it is, so no pickle is needed.
    """
    return [list(generator_state.__getstate__()) for generator_state in paddle.get_rng_state()]


def _paddle_rng_state_from_data(data: List[list]) -> list:
    """``GeneratorState`` objects back from ``_paddle_rng_state_as_data``'s lists.

    A string is the format of older state.json files: a base64 pickle. Unpickling runs
    whatever the file says, so it is refused with a hint.

    Raises:
        ValueError: ``data`` is not a list of lists (nothing else is ever unpickled or run).
    """
    if isinstance(data, str):
        raise ValueError('state.json holds the paddle random state as a pickle (an older '
                         'format); pickles are not loaded because they can run code. Delete the '
                         '"rng" entry of that state.json to resume without it.')
    if not isinstance(data, list) or not all(isinstance(values, list) for values in data):
        raise ValueError(f'the checkpoint\'s paddle random state must be a list of generator '
                         f'states (lists of ints), got {type(data).__name__}')
    state_type = type(paddle.get_rng_state()[0])
    states = []
    for values in data:
        # what unpickling does: an empty object, then its pickle state
        generator_state = state_type.__new__(state_type)
        generator_state.__setstate__(tuple(values))
        states.append(generator_state)
    return states


def capture_rng_state() -> Dict[str, Any]:
    """The global random states (python, numpy, paddle) as a JSON-serialisable dict of
    plain lists and numbers (no pickles)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        'python': [py_state[0], list(py_state[1]), py_state[2]],
        'numpy': [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
        'paddle': _paddle_rng_state_as_data(),
    }


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Put back the random states saved by ``capture_rng_state``."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    paddle.set_rng_state(_paddle_rng_state_from_data(state['paddle']))


def environment_report(device: str) -> str:
    """A few lines describing the software and hardware, printed at the start of a run."""
    lines = [
        f'python: {platform.python_version()} ({platform.system()} {platform.machine()})',
        f'paddle: {paddle.__version__} (compiled with CUDA: {paddle.is_compiled_with_cuda()})',
        f'numpy: {np.__version__}',
        f'device: {device}',
        f'processes (nranks): {world_size()}, this rank: {global_rank()}',
        f'CPU cores: {os.cpu_count()}',
    ]
    if device == 'gpu':
        lines.append(f'GPU: {paddle.device.cuda.get_device_name()}')
    return '\n'.join(lines)

"""Which device this process uses: the GPU check and the device choice the trainer, the
prediction apps and Paddle Inference share."""
import os
from typing import Optional

import paddle

DEVICES = ('cpu', 'gpu')


def gpu_available() -> bool:
    """True when this paddle build has CUDA and at least one GPU is visible.

    Never raises: a CUDA build on a machine without a driver (where counting devices
    fails) reports False, as does a CPU-only build.
    """
    if not paddle.is_compiled_with_cuda():
        return False
    try:
        return paddle.device.cuda.device_count() > 0
    except Exception:  # a CUDA build on a machine without a driver
        return False


def local_rank() -> int:
    """This process's rank on its own machine (selects the GPU under a multi-process launch)."""
    return int(os.environ.get('PADDLE_LOCAL_RANK', os.environ.get('PADDLE_RANK_IN_NODE', '0')))


def resolve_device(requested: Optional[str] = None) -> str:
    """Pick and activate the device: 'gpu' when asked for or available, else 'cpu'.

    Args:
        requested: 'cpu', 'gpu' or None (None means gpu when one is usable, else cpu).

    Returns:
        'cpu' or 'gpu', already passed to ``paddle.set_device``. Under a multi-process
        launch on GPU, each rank gets its own card (``gpu:<local rank>``).
    """
    if requested is None:
        requested = 'gpu' if gpu_available() else 'cpu'
    requested = requested.lower()
    if requested not in DEVICES:
        raise ValueError(f'--device must be one of {DEVICES}, got {requested!r}.')
    if requested == 'gpu':
        if not gpu_available():
            raise RuntimeError('--device gpu was requested, but this paddle build has no CUDA '
                               'support or no GPU is visible; use --device cpu.')
        paddle.set_device(f'gpu:{local_rank()}')
    else:
        paddle.set_device('cpu')
    return requested

"""Whether this process can use a GPU: the one check the runtime and Paddle Inference share."""
import paddle


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

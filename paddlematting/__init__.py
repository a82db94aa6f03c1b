"""paddlematting: image matting (DIM, MODNet) on PaddlePaddle.

Importing the package registers every model, backbone, dataset, transform and
loss, so a YAML config can be built from any working directory.
"""
__version__ = '0.1.0'

import warnings

# paddle warns about a missing C++ compiler cache on every import; it only matters to people
# building custom operators, and would otherwise open every command's output
warnings.filterwarnings('ignore', message='No ccache found')
# paddle 3 warns once, on the first paddle.max call, that it differs from torch.max (it does:
# it returns no indices); the models here use it as paddle documents it
warnings.filterwarnings('ignore', message=r'\s*Non compatible API')

try:
    import paddle  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only without paddle
    raise ImportError(
        'paddlematting needs PaddlePaddle, which is not installed. Install the CPU build with '
        '`pip install paddlepaddle==3.2.2` (or `pip install -e .[cpu]`), or the GPU build '
        'following https://www.paddlepaddle.org.cn/install/quick (package `paddlepaddle-gpu`).'
    ) from e

from .utils import manager  # noqa: E402
from .utils.config import Config, ConfigError  # noqa: E402
# importing the subpackages registers their components
from . import transforms, datasets, models, metrics  # noqa: E402,F401

__all__ = ['Config', 'ConfigError', 'manager', '__version__']

"""What the command-line tools share: logging, config/device/backend/input flags, runners,
and the prediction tools' exit codes and report."""
import argparse
import logging
import sys
from typing import Optional, Tuple

import numpy as np

from ..core.input_collection import gather_prediction_inputs
from ..core.predictor import PredictResult
from ..core.runner import dygraph_runner
from ..core.runtime import DEVICES, environment_report, resolve_device
from ..core.visualization import DEFAULT_FG_METHOD, FG_METHODS
from ..transforms.pipeline import Runner
from ..utils import manager
from ..utils.config import Config
from ..utils.pretrained import load_pretrained_weights, pretrained_key_paths, resolve_weights_path

try:
    from paddle.base.core import EnforceNotMet as PaddleEnforceError
except ImportError:  # a paddle without this module: its errors are RuntimeErrors there
    PaddleEnforceError = RuntimeError

logger = logging.getLogger('paddlematting')

BACKENDS = ('dygraph', 'inference')

# exit statuses of predict.py and deploy/python/infer.py
EXIT_OK = 0
EXIT_SOME_FAILED = 1  # some images could not be predicted (the others were written)
EXIT_BAD_INPUTS = 2  # nothing was predicted: the inputs or flags are unusable

# what "Paddle Inference cannot be used here" raises, so build_runner falls back to dygraph:
# no paddle.inference or paddle2onnx (ImportError); no usable device, an op without a static
# or inference kernel (RuntimeError, NotImplementedError among them: paddle maps its
# NotFound / PreconditionNotMet / Unavailable / Unimplemented errors there); files that
# cannot be written or read (OSError); paddle's untyped C++ failures (EnforceNotMet).
# Anything else (a ValueError from tracing the model, say) is a bug and is raised.
INFERENCE_UNAVAILABLE_ERRORS = (ImportError, RuntimeError, OSError, PaddleEnforceError)


def setup_logging(level: int = logging.INFO) -> None:
    """Send the package's log records to stderr with time and level, once."""
    root = logging.getLogger('paddlematting')
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(message)s',
                                               datefmt='%Y-%m-%d %H:%M:%S'))
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """--config, --opts and --device."""
    parser.add_argument('--config', required=True, help='The YAML config file.')
    parser.add_argument('--opts', nargs='+', default=[], metavar='KEY=VALUE',
                        help='Override any config key, e.g. train_dataset.dataset_root=data/x '
                             'model.backbone.pretrained=null (values are YAML).')
    parser.add_argument('--device', choices=DEVICES, default=None,
                        help='Where to run; default gpu when paddle has CUDA and a GPU is '
                             'visible, else cpu.')


def add_prediction_input_args(parser: argparse.ArgumentParser) -> None:
    """--image_path, --trimap_path, --background and --fg_method (predict.py and
    deploy/python/infer.py)."""
    parser.add_argument('--image_path', required=True,
                        help='An image or video, a folder (searched recursively) or a .txt list of '
                             'them. A video (.mp4 .avi .mov .mkv .webm) gives NAME_alpha.mp4 and, '
                             'with --background, NAME_composite.mp4, at its fps, size and frame '
                             'count; the audio track is not carried over (the outputs are silent).')
    parser.add_argument('--trimap_path', default=None,
                        help='Trimaps in the same form (folder: matched by relative name); '
                             'required by trimap models such as DIM.')
    parser.add_argument('--background', default=None, metavar='PATH|#RRGGBB|r,g,b',
                        help='Also write NAME_composite.png: each image over this background, an '
                             'image file (scaled up if smaller, centre-cropped) or a colour.')
    parser.add_argument('--fg_method', choices=FG_METHODS, default=DEFAULT_FG_METHOD,
                        help='How the cut-outs (NAME_rgba.png, composites) get their colours: '
                             'blur_fusion (fast) or multilevel estimate the foreground colours '
                             'under the matte, so the old background does not show through soft '
                             'edges such as hair; none keeps the photo\'s own colours. '
                             'Default %(default)s.')
    parser.add_argument('--temporal_ofd', action='store_true',
                        help='Videos: remove one-frame flicker with MODNet\'s one-frame delay (a '
                             'pixel that jumps away from two agreeing neighbours takes their mean).')


def gather_prediction_args(args: argparse.Namespace) -> Optional[Tuple[list, Optional[np.ndarray]]]:
    """The inputs and background named by ``add_prediction_input_args``'s flags.

    Returns ``(inputs, background RGB uint8 or None)``, or None after logging one line when
    any of them is unusable (the caller then exits with EXIT_BAD_INPUTS).
    """
    try:
        return gather_prediction_inputs(args.image_path, args.trimap_path, args.background)
    except (OSError, ValueError) as error:  # missing path, trimap mismatch, bad background
        logger.error('%s', error)
        return None


def add_backend_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--backend', choices=BACKENDS, default=None,
                        help='dygraph: run the paddle model directly; inference: export it once '
                             '(cached) and run Paddle Inference. Default: inference on CPU, '
                             'dygraph on GPU.')


def read_config(args: argparse.Namespace, **overrides) -> Config:
    """``Config(args.config, opts=args.opts, **overrides)``, made offline-safe for --model_path.

    When ``args.model_path`` is set, that checkpoint replaces every weight of the model, so
    each non-null ``pretrained`` key of the model section (e.g. the backbone's ImageNet URL)
    is set to null: building the model then downloads nothing and works without a network.
    """
    cfg = Config(args.config, opts=args.opts, **overrides)
    if getattr(args, 'model_path', None):
        skipped = pretrained_key_paths(cfg.dic.get('model'))
        if skipped:
            logger.info('--model_path is given, so %s %s not loaded.', ', '.join(skipped),
                        'is' if len(skipped) == 1 else 'are')
            cfg = Config(args.config, opts=[*args.opts, *(f'{path}=null' for path in skipped)],
                         **overrides)
    return cfg


def start(args: argparse.Namespace, **overrides) -> Tuple[Config, str]:
    """Pick the device, read the config (see ``read_config``) and log the environment.

    Returns:
        (cfg, device).
    """
    setup_logging()
    device = resolve_device(args.device)
    cfg = read_config(args, **overrides)
    logger.info('Environment\n%s', environment_report(device))
    return cfg, device


def _inference_runner(cfg: Config, model_path: Optional[str], device: str) -> Runner:
    from .. import inference  # exporting and Paddle Inference: only when asked for
    local_weights = resolve_weights_path(model_path) if model_path else None
    folder = inference.export_checkpoint_cached(cfg, local_weights)
    logger.info('Using the exported model in %s (Paddle Inference, %s).', folder, device)
    return inference.Predictor(folder, device=device)


def declared(cfg: Config, name: str, default: bool = True) -> bool:
    """A class-level declaration (``trainable``, ``exportable``, ...) of the config's model type,
    read without building the model; ``default`` when the class does not declare it."""
    model_type = cfg.model_config.get('type')
    model_class = manager.MODELS[model_type] if model_type in manager.MODELS else None
    return bool(getattr(model_class, name, default))


def build_runner(cfg: Config, model_path: Optional[str], device: str,
                 backend: Optional[str] = None) -> Tuple[Runner, str]:
    """The runner for val/predict and the backend actually used.

    ``backend`` None picks inference on CPU and dygraph on GPU. When Paddle Inference is
    unavailable (one of ``INFERENCE_UNAVAILABLE_ERRORS``), a warning gives the error and
    dygraph is used; any other error is raised.
    """
    backend = backend or ('inference' if device == 'cpu' else 'dygraph')
    if backend == 'inference' and not declared(cfg, 'exportable'):
        # classical solvers run numpy code that no static program can hold
        logger.info('%s cannot be exported, so it runs directly (dygraph backend).',
                    cfg.model_config.get('type'))
        backend = 'dygraph'
    if not model_path and declared(cfg, 'trainable'):
        logger.warning('No --model_path given: using the weights the config builds with '
                       '(random unless model.pretrained is set).')
    if backend == 'inference':
        try:
            return _inference_runner(cfg, model_path, device), 'inference'
        except INFERENCE_UNAVAILABLE_ERRORS as error:
            logger.warning('The inference backend is unavailable (%s: %s); falling back to '
                           'dygraph.', type(error).__name__, error)
    model = cfg.model
    if model_path:
        load_pretrained_weights(model, model_path, strict=True)
    model.eval()
    return dygraph_runner(model), 'dygraph'


def report_prediction(result: PredictResult, n_inputs: int, save_dir: str,
                      composites: bool = False) -> int:
    """Log what ``core.predictor.predict_images`` wrote and failed; return the exit status
    (``EXIT_OK``, or ``EXIT_SOME_FAILED`` when any input failed)."""
    logger.info('Wrote %d alpha mattes (and cut-outs%s) to %s.', len(result.written),
                ', composites' if composites else '', save_dir)
    if result.failed:
        logger.error('%d of %d images failed:\n%s', len(result.failed), n_inputs,
                     '\n'.join(f'  {path}: {reason}' for path, reason in result.failed))
        return EXIT_SOME_FAILED
    return EXIT_OK

"""What the command-line tools share: logging, config/device/backend/input flags, runners,
and the prediction tools' exit codes and report."""
import argparse
import logging
import os
import sys
from typing import Optional, Tuple

import numpy as np

from ..predict.input_collection import collect_inputs, keep_outputs_apart
from ..predict.images import PredictResult
from ..predict.options import PredictOptions
from ..utils.pixel_limit import MAX_PIXELS_ENV, default_max_pixels
from ..builders.model import build_model, model_class, parameter_count
from ..pipeline.runner import dygraph_runner
from ..engine.runtime import DEVICES, environment_report, resolve_device
from ..pipeline.outputs import DEFAULT_FG_METHOD, FG_METHODS, OutputOptions
from ..predict.visualization import read_background
from ..models.traits import ModelTraits, model_traits
from ..pipeline.prediction import Runner
from ..config import Config
from ..utils.download import DownloadError
from ..utils.output_files import check_output_dir, hold_output_dir
from ..utils.pretrained import pretrained_key_paths, resolve_weights_path

try:
    from paddle.base.core import EnforceNotMet as PaddleEnforceError
except ImportError:  # a paddle without this module: its errors are RuntimeErrors there
    PaddleEnforceError = RuntimeError

logger = logging.getLogger('paddlematting')

# 'inference': the exported model on the CPU engine its deploy.yaml recorded as fastest;
# 'paddle_inference' / 'onnxruntime': the exported model on that engine
BACKENDS = ('dygraph', 'inference', 'paddle_inference', 'onnxruntime')
EXPORTED_BACKENDS = ('inference', 'paddle_inference', 'onnxruntime')

# exit statuses of predict.py and deploy/python/infer.py
EXIT_OK = 0
EXIT_SOME_FAILED = 1  # some images could not be predicted (the others were written)
EXIT_BAD_INPUTS = 2  # nothing was predicted: the inputs or flags are unusable
# data loader worker processes a command may start (--num_workers): each is a process
MAX_WORKERS = 1024

# what "Paddle Inference cannot be used here" raises, so build_runner falls back to dygraph:
# no paddle.inference or paddle2onnx (ImportError); no usable device, an op without a static
# or inference kernel (RuntimeError, NotImplementedError among them: paddle maps its
# NotFound / PreconditionNotMet / Unavailable / Unimplemented errors there); files that
# cannot be written or read (OSError); paddle's untyped C++ failures (EnforceNotMet).
# Anything else (a ValueError from tracing the model, say) is a bug and is raised.
INFERENCE_UNAVAILABLE_ERRORS = (ImportError, RuntimeError, OSError, PaddleEnforceError)
# ...except these OSErrors, which the dygraph backend would meet again: weights (the config's
# pretrained files) that are missing or cannot be downloaded
WEIGHTS_UNAVAILABLE_ERRORS = (FileNotFoundError, DownloadError)


def _largest(high: int) -> str:
    """``high - 1`` as a person reads it: ``2**63 - 1`` rather than its 19 digits."""
    power = high.bit_length() - 1
    return f'2**{power} - 1' if high == 1 << power and power > 16 else str(high - 1)


def int_in(low: int, high: int):
    """An argparse ``type`` for an integer flag in ``[low, high)``: out of range, argparse's
    one-line usage error (exit 2) instead of a failure deep in paddle or numpy (a seed past
    2**64 is a pybind traceback) or a silently meaningless run (``--num_workers -1``)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected an integer, got {text!r}') from None
        if not low <= value < high:
            raise argparse.ArgumentTypeError(f'must be an integer from {low} to {_largest(high)}, '
                                             f'got {value}')
        return value
    parse.__name__ = 'integer'  # argparse names the type in its messages
    return parse


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
    """--config (or --model NAME), --opts and --device."""
    parser.add_argument('--config', default=None, help='The YAML config file (or give --model).')
    parser.add_argument('--model', default=None, metavar='NAME|CONFIG',
                        help='A model-zoo name (`paddlematting models` lists them) or a config '
                             'path, instead of --config: its config, and its published weights '
                             'unless --model_path/--weights is given (downloaded once).')
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
    parser.add_argument('--batch_size', type=int_in(1, 4097), default=1,
                        help='Images per model run: consecutive images that the transforms bring '
                             'to one size (a folder of same-size photos) run together; the '
                             'results do not change. Default %(default)s.')
    parser.add_argument('--save_names', choices=('default', 'paddleseg'), default='default',
                        help="default: the matte as NAME_alpha.png; paddleseg: as NAME.png, like "
                             "PaddleSeg contrib/Matting's predict.py (NAME_rgba.png and "
                             "NAME_composite.png either way)")
    parser.add_argument('--temporal_ofd', action='store_true',
                        help='Videos: remove one-frame flicker with MODNet\'s one-frame delay (a '
                             'pixel that jumps away from two agreeing neighbours takes their mean).')
    add_max_pixels_arg(parser)


def add_max_pixels_arg(parser: argparse.ArgumentParser, flag: str = '--max_pixels') -> None:
    """``flag`` (and its other spelling, - or _) as ``args.max_pixels``: the photos' pixel cap."""
    name = flag[2:]
    others = sorted({'--' + name.replace('-', '_'), '--' + name.replace('_', '-')} - {flag})
    parser.add_argument(flag, *others, dest='max_pixels', type=int_in(1, 1 << 40),
                        default=default_max_pixels(), metavar='N',
                        help='Refuse photos over N pixels, before decoding them (memory follows '
                             'the photo: about 35 bytes per pixel). Default %(default)s '
                             f'(${MAX_PIXELS_ENV} changes it).')


def gather_prediction_args(args: argparse.Namespace) -> Optional[Tuple[list, Optional[np.ndarray]]]:
    """The inputs and background named by ``add_prediction_input_args``'s flags.

    Returns ``(inputs, background RGB uint8 or None)``, or None after logging one line when
    any of them is unusable (the caller then exits with EXIT_BAD_INPUTS). Outputs that would
    overwrite an input in ``args.save_dir`` are named apart (``keep_outputs_apart``).
    """
    try:
        # the background first: a bad colour is reported before the images are walked
        background = read_background(args.background) if args.background is not None else None
        inputs = collect_inputs(args.image_path, args.trimap_path)
    except (OSError, ValueError) as error:  # missing path, trimap mismatch, bad background
        logger.error('%s', error)
        return None
    background_file = [args.background] if args.background and os.path.isfile(args.background) else []
    keep_outputs_apart(inputs, args.save_dir, _output_options(args, background), background_file)
    return inputs, background


def _output_options(args: argparse.Namespace, background: Optional[np.ndarray]) -> OutputOptions:
    return OutputOptions(background=background, fg_method=args.fg_method,
                         save_names=args.save_names)


def prediction_options(args: argparse.Namespace, background: Optional[np.ndarray],
                       needs_trimap: bool) -> PredictOptions:
    """The ``PredictOptions`` that ``add_prediction_input_args``'s flags ask for."""
    return PredictOptions(outputs=_output_options(args, background), needs_trimap=needs_trimap,
                          batch_size=args.batch_size, temporal_ofd=args.temporal_ofd,
                          max_pixels=args.max_pixels)


def claim_output_dir(save_dir: str, command: str) -> None:
    """Before any work: refuse a ``save_dir`` that is a file or read-only, then hold it for
    this run (one run per folder, until the command's ``main`` returns)."""
    check_output_dir(save_dir)
    hold_output_dir(save_dir, command)


def add_model_run_args(parser: argparse.ArgumentParser, weights_help: str) -> None:
    """--config, --opts, --device, --backend, --model_path and --allow_random_weights (val.py
    and predict.py)."""
    add_config_args(parser)
    add_backend_arg(parser)
    parser.add_argument('--model_path', '--weights', default=None, help=weights_help)
    parser.add_argument('--allow_random_weights', action='store_true',
                        help='Run even when no trained weights are given (no --model_path, no '
                             'model.pretrained in the config): the network is then untrained '
                             'and its mattes meaningless (for testing a pipeline).')


def refuse_untrained(cfg: Config, args: argparse.Namespace) -> None:
    """Refuse to run a network with parameters but no trained weights: no ``--model_path``
    and no ``model.pretrained`` in the config (a backbone's ImageNet weights leave the
    matting head random), unless ``--allow_random_weights``. Raises ValueError (one line)."""
    if args.model_path or cfg.model_config.get('pretrained') or args.allow_random_weights:
        return
    if parameter_count(cfg) == 0:  # classical solvers: nothing to train, nothing to load
        return
    partial = pretrained_key_paths(cfg.model_config)
    only = f' (it loads only {", ".join(partial)}: the rest would be random)' if partial else ''
    raise ValueError(f'{args.config}: no trained weights for {cfg.model_config.get("type")}'
                     f'{only}; pass --model_path (a .pdparams file, a checkpoint folder or a '
                     f'URL) or set model.pretrained in the config, or add '
                     f'--allow_random_weights to run the untrained network anyway')


def add_backend_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--backend', choices=BACKENDS, default=None,
                        help='dygraph: run the paddle model directly; inference: export it once '
                             '(cached) and run it on the engine measured fastest on this CPU at '
                             'export; paddle_inference / onnxruntime: that engine. Default: '
                             'inference on CPU, dygraph on GPU.')


def apply_model_name(args: argparse.Namespace) -> None:
    """``--model NAME|CONFIG`` -> ``args.config`` and, for commands that take weights
    (``args.model_path``) and got none, the zoo's weights (downloaded once; offline, one line
    says where to place the file). Raises ValueError when neither --config nor --model is given."""
    from ..zoo import fetch_weights, resolve_model
    if getattr(args, 'model', None) is None:
        if args.config is None:
            raise ValueError('give --config FILE or --model NAME (`paddlematting models` lists '
                             'the names)')
        return
    if args.config is not None:
        raise ValueError(f'give --config or --model, not both (--model {args.model} names its '
                         f'own config)')
    choice = resolve_model(args.model, getattr(args, 'model_path', None))
    args.config = choice.config
    if hasattr(args, 'model_path') and args.model_path is None and choice.weights is not None:
        args.model_path = fetch_weights(choice)


def start(args: argparse.Namespace, **overrides) -> Tuple[Config, str]:
    """Pick the device, read the config once (``Config(args.config, opts=args.opts,
    **overrides)``) and log the environment.

    Returns:
        (cfg, device).
    """
    setup_logging()
    apply_model_name(args)
    device = resolve_device(args.device)
    cfg = Config(args.config, opts=args.opts, **overrides)
    logger.info('Environment\n%s', environment_report(device))
    return cfg, device


def start_writing(args: argparse.Namespace, command: str) -> Tuple[Config, str]:
    """``claim_output_dir(args.save_dir, command)``, then ``start(args)``: the opening of
    val.py and predict.py. Returns (cfg, device)."""
    claim_output_dir(args.save_dir, command)
    return start(args)


def declared_traits(cfg: Config) -> ModelTraits:
    """What ``cfg``'s model class declares (inputs, trainable, exportable), read before
    anything is built."""
    return model_traits(model_class(cfg))


def _inference_runner(cfg: Config, local_weights: Optional[str], device: str,
                      backend: str = 'inference') -> Runner:
    from .. import inference  # exporting and the engines: only when asked for
    folder = inference.export_checkpoint_cached(cfg, local_weights)
    engine = None if backend == 'inference' else backend
    predictor = inference.Predictor(folder, device=device, engine=engine)
    logger.info('Using the exported model in %s (%s, %s).', folder, predictor.engine_name, device)
    return predictor


def build_runner(cfg: Config, model_path: Optional[str], device: str,
                 backend: Optional[str] = None) -> Tuple[Runner, str]:
    """The runner for val/predict and the backend actually used.

    ``backend`` None picks inference on CPU and dygraph on GPU. When the default
    ``inference`` is unavailable (one of ``INFERENCE_UNAVAILABLE_ERRORS``), a warning gives
    the error and dygraph is used; an engine named explicitly (``paddle_inference``,
    ``onnxruntime``) is never replaced; any other error is raised.
    """
    backend = backend or ('inference' if device == 'cpu' else 'dygraph')
    traits = declared_traits(cfg)
    if not model_path and traits.trainable:
        logger.warning('No --model_path given: using the weights the config builds with '
                       '(random unless model.pretrained is set).')
    if backend in EXPORTED_BACKENDS and not traits.exportable:
        # e.g. classical solvers: numpy code that no static program can hold
        if backend != 'inference':
            raise ValueError(f'{cfg.model_config["type"]} cannot be exported, so --backend '
                             f'{backend} cannot run it; use --backend dygraph.')
        logger.info('%s cannot be exported, so it runs with the dygraph backend.',
                    cfg.model_config['type'])
        backend = 'dygraph'
    # missing, unsafe or undownloadable weights are for the user to fix: no fallback for them
    local_weights = resolve_weights_path(model_path) if model_path else None
    if backend in EXPORTED_BACKENDS:
        try:
            return _inference_runner(cfg, local_weights, device, backend), backend
        except WEIGHTS_UNAVAILABLE_ERRORS:
            raise
        except INFERENCE_UNAVAILABLE_ERRORS as error:
            if backend != 'inference':
                raise  # an engine named explicitly is not silently replaced
            logger.warning('The inference backend is unavailable (%s: %s); falling back to '
                           'dygraph.', type(error).__name__, error)
    model = build_model(cfg, local_weights)
    model.eval()
    return dygraph_runner(model), 'dygraph'


def report_prediction(result: PredictResult, n_inputs: int, save_dir: str,
                      composites: bool = False) -> int:
    """Log what ``predict.images.predict_images`` wrote and failed; return the exit status
    (``EXIT_OK``, or ``EXIT_SOME_FAILED`` when any input failed)."""
    logger.info('Wrote %d alpha mattes (and cut-outs%s) to %s.', len(result.written),
                ', composites' if composites else '', save_dir)
    if result.failed:
        logger.error('%d of %d images failed:\n%s', len(result.failed), n_inputs,
                     '\n'.join(f'  {path}: {reason}' for path, reason in result.failed))
        return EXIT_SOME_FAILED
    return EXIT_OK

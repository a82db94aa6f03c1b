"""``val.py``: evaluate a trained model on the config's val_dataset (SAD, MSE, Grad, Conn).

Writes ``save_dir/metrics_per_image.csv`` and, with --save_results, each alpha as an 8-bit
PNG under save_dir at the image's relative name with the extension .png, and with --background
also the cut-out over that background as ``<name>_composite.png`` (foreground colours
estimated by --fg_method). Composited
(Composition-1k) samples are named after foreground and background:
``val/fg/x.png`` on ``bg/coffee.jpg`` is ``val/fg/x__coffee.png``.
"""
import argparse
import logging
import sys
from typing import List, Optional

from ..builders import build_dataset
from ..engine.evaluator import PER_IMAGE_CSV, EvalOptions, evaluate
from ..pipeline.outputs import DEFAULT_FG_METHOD, FG_METHODS
from ..predict.visualization import read_background
from ..metrics import default_metric_names, metric_names
from .common import (MAX_WORKERS, add_model_run_args, build_runner, declared_traits, int_in,
                     refuse_untrained, start_writing)
from .errors import reports_user_errors

logger = logging.getLogger('paddlematting')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a matting model.')
    add_model_run_args(parser, 'Weights to evaluate: a .pdparams file, a checkpoint folder or '
                               'a URL.')
    parser.add_argument('--save_dir', default='./output/results',
                        help='Where the per-image CSV (and --save_results PNGs) go.')
    parser.add_argument('--save_results', action='store_true',
                        help='Also write every predicted alpha as an 8-bit PNG.')
    parser.add_argument('--background', default=None, metavar='PATH|#RRGGBB|r,g,b',
                        help='With --save_results, also write each cut-out over this background '
                             '(an image file or a colour) as NAME_composite.png.')
    parser.add_argument('--fg_method', choices=FG_METHODS, default=DEFAULT_FG_METHOD,
                        help='Foreground colour estimation for those composites (default '
                             '%(default)s; none: the photo\'s own colours).')
    parser.add_argument('--num_workers', type=int_in(0, MAX_WORKERS + 1), default=0, help='Data loader worker processes.')
    registered, defaults = metric_names(), default_metric_names()
    parser.add_argument('--metrics', nargs='+', default=defaults, choices=registered,
                        type=str.lower, help=f'Metrics to compute, of {", ".join(registered)} '
                                             f'(default: {", ".join(defaults)}).')
    return parser.parse_args(argv)


@reports_user_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg, device = start_writing(args, 'val')
    if ('trimap' in declared_traits(cfg).input_names
            and cfg.val_dataset_config.get('get_trimap', True) is False):
        raise ValueError(f'{args.config}: {cfg.model_config["type"]} takes a trimap, but '
                         f'"val_dataset.get_trimap" is false; set it to true')
    background = read_background(args.background) if args.background else None
    if background is not None and not args.save_results:
        logger.warning('--background only matters with --save_results; no composites are written.')
    dataset = build_dataset(cfg, 'val_dataset')
    refuse_untrained(cfg, args)
    runner, backend = build_runner(cfg, args.model_path, device, args.backend,
                                   args.precision)
    logger.info('Evaluating %d images with the %s backend...', len(dataset), backend)
    result = evaluate(runner, dataset, EvalOptions(
        metric_names=args.metrics, num_workers=args.num_workers, save_dir=args.save_dir,
        save_results=args.save_results, background=background, fg_method=args.fg_method))
    logger.info('[EVAL] %s', result.summary())
    logger.info('[EVAL] %d images in %.1f s (%.2f images/s); per-image values in %s', len(dataset),
                result.seconds, len(dataset) / max(result.seconds, 1e-9),
                f'{args.save_dir}/{PER_IMAGE_CSV}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

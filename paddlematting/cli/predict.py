"""``predict.py``: alpha mattes for your own images.

For each input ``REL/NAME.ext`` writes ``save_dir/REL/NAME_alpha.png`` and
``save_dir/REL/NAME_rgba.png`` (inputs differing only in extension keep it, ``a.jpg_alpha.png``;
list lines outside the list's folder go straight into save_dir; see
``paddlematting.predict.input_collection`` for the naming rules), and with ``--background`` (an image
file or a colour ``#RRGGBB`` / ``r,g,b``) also ``save_dir/REL/NAME_composite.png``; the cut-outs'
colours are the foreground estimated by ``--fg_method``. A video input writes ``NAME_alpha.mp4``
(and ``NAME_composite.mp4``) at its fps, size and frame count, without its audio.
Exits 1 when any input failed (each failure is logged), 2 when the inputs cannot be
collected (a missing path, a trimap count that does not match), the flags are incomplete or
``--background`` is unusable (checked before any image is read).
"""
import argparse
import logging
import sys
from typing import List, Optional

from ..builders import build_val_transforms
from ..predict.images import predict_images
from .errors import reports_user_errors
from .common import (EXIT_BAD_INPUTS, add_model_run_args, add_prediction_input_args, build_runner,
                     declared_traits, gather_prediction_args, prediction_options,
                     refuse_untrained, report_prediction, start_writing)

logger = logging.getLogger('paddlematting')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Predict alpha mattes for images and videos.')
    add_model_run_args(parser, 'Weights: a .pdparams file, a checkpoint folder or a URL.')
    add_prediction_input_args(parser)
    parser.add_argument('--save_dir', default='./output/results', help='Where the PNGs go.')
    return parser.parse_args(argv)


@reports_user_errors
def main(argv: Optional[List[str]] = None) -> int:
    """Predict; return the exit status (0 all written, 1 some failed, 2 unusable inputs)."""
    args = parse_args(argv)
    cfg, device = start_writing(args, 'predict')
    model_type = cfg.model_config.get('type')
    needs_trimap = 'trimap' in declared_traits(cfg).input_names
    if needs_trimap and args.trimap_path is None:
        logger.error('%s models need a trimap for every image: pass --trimap_path (an image, a '
                     'folder matched by name, or a list file).', model_type)
        return EXIT_BAD_INPUTS
    gathered = gather_prediction_args(args)
    if gathered is None:
        return EXIT_BAD_INPUTS
    inputs, background = gathered
    refuse_untrained(cfg, args)
    runner, backend = build_runner(cfg, args.model_path, device, args.backend,
                                   args.precision)
    logger.info('Predicting %d images with the %s backend...', len(inputs), backend)
    result = predict_images(runner, build_val_transforms(cfg), inputs, args.save_dir,
                            prediction_options(args, background, needs_trimap))
    return report_prediction(result, len(inputs), args.save_dir, composites=background is not None)


if __name__ == '__main__':
    sys.exit(main())

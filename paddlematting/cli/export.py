"""export.py: save a trained model as a static Paddle Inference folder (+ deploy.yaml, optional ONNX)."""
import argparse
import logging
import os
import sys
from typing import List, Optional

from ..inference.export import config_inference_transforms, export_model
from ..utils.pretrained import load_pretrained_weights
from .common import EXIT_BAD_INPUTS, add_config_args, declared, start

logger = logging.getLogger('paddlematting')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a matting model for Paddle Inference: model.json/.pdiparams + deploy.yaml.')
    add_config_args(parser)
    parser.add_argument('--model_path', default=None,
                        help='trained weights (.pdparams file, folder or URL); default: the config\'s own')
    parser.add_argument('--save_dir', default='output/export', help='the folder to write (default output/export)')
    parser.add_argument('--input_shape', nargs=4, type=int, default=None, metavar=('N', 'C', 'H', 'W'),
                        help='fix the input shape; default dynamic batch, height and width')
    parser.add_argument('--onnx', action='store_true', help='also write model.onnx (needs paddle2onnx)')
    return parser.parse_args(argv)


class NotExportableError(ValueError):
    """The config's model declares ``exportable = False`` (a classical solver)."""


def run(argv: Optional[List[str]] = None) -> str:
    """Parse ``argv``, export, and return the written folder (NotExportableError for a model
    that declares it cannot be exported)."""
    args = parse_args(argv)
    # the model is built (and traced) on --device; with --model_path the config's
    # pretrained keys are skipped (see common.read_config)
    cfg, _ = start(args)
    if not declared(cfg, 'exportable'):
        raise NotExportableError(f'{cfg.model_config.get("type")} cannot be exported: it runs numpy '
                                 f'solvers that no static program can hold; use predict.py or val.py '
                                 f'with this config instead.')
    model = cfg.model
    if args.model_path:
        load_pretrained_weights(model, args.model_path, strict=True)
        logger.info('Loaded weights from %s.', args.model_path)
    else:
        logger.warning('No --model_path given: exporting the weights the config builds with '
                       '(random unless model.pretrained is set in %s). Pass --model_path with '
                       'your trained model.pdparams to export it.', args.config)
    transforms = config_inference_transforms(cfg)
    folder = export_model(model, args.save_dir, transforms, model_type=cfg.model_config.get('type'),
                          input_shape=args.input_shape, onnx=args.onnx)
    logger.info('Exported to %s.', os.path.abspath(folder))
    return folder


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point (``paddlematting-export``); exit status 0 on success, 2 when the
    model cannot be exported."""
    try:
        run(argv)
    except NotExportableError as error:
        logger.error('%s', error)
        return EXIT_BAD_INPUTS
    return 0


if __name__ == '__main__':
    sys.exit(main())

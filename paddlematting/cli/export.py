"""export.py: save a trained model as a static Paddle Inference folder (+ deploy.yaml, optional ONNX)."""
import argparse
import logging
import os
import sys
from typing import List, Optional

from ..builders.model import build_model
from ..inference.export import ExportOptions, config_inference_transforms, export_model
from ..inference.export_folder import check_export_dir
from .common import add_config_args, declared_traits, start
from .errors import reports_user_errors

logger = logging.getLogger('paddlematting')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a matting model for Paddle Inference: model.json/.pdiparams + deploy.yaml.')
    add_config_args(parser)
    parser.add_argument('--model_path', '--weights', default=None,
                        help='trained weights (.pdparams file, folder or URL); default: the config\'s own')
    parser.add_argument('--save_dir', default='output/export', help='the folder to write (default output/export)')
    parser.add_argument('--input_shape', nargs=4, type=int, default=None, metavar=('N', 'C', 'H', 'W'),
                        help='fix the input shape; default dynamic batch, height and width')
    parser.add_argument('--onnx', action='store_true',
                        help='also write model.onnx (needs the onnx extra), time Paddle Inference, '
                             'ONNX Runtime and OpenVINO (those installed) on this CPU and record '
                             'the fastest in deploy.yaml')
    parser.add_argument('--no_engine_choice', action='store_true',
                        help='with --onnx: skip the timing (deploy.yaml then names no CPU engine '
                             'and Paddle Inference is used unless --backend says otherwise)')
    parser.add_argument('--quantize', choices=('int8',), default=None,
                        help='also write model_int8.onnx, post-training quantized (implies --onnx); '
                             'never used unless asked for with --precision int8')
    parser.add_argument('--calib_images', default=None, metavar='DIR|LIST|IMAGE',
                        help='with --quantize: images to calibrate on (the first 32 are used)')
    args = parser.parse_args(argv)
    if args.quantize and not args.calib_images:
        parser.error('--quantize int8 needs --calib_images (a folder, list file or image).')
    return args


class NotExportableError(ValueError):
    """The config's model declares ``exportable = False`` (a classical solver)."""


def run(argv: Optional[List[str]] = None) -> str:
    """Parse ``argv``, export, and return the written folder (NotExportableError for a model
    that declares it cannot be exported)."""
    args = parse_args(argv)
    check_export_dir(args.save_dir)  # before any work: a file or a foreign folder is refused
    # the model is built (and traced) on --device; with --model_path the config's
    # pretrained keys are skipped (see builders.build_model)
    cfg, _ = start(args)
    if not declared_traits(cfg).exportable:
        raise NotExportableError(f'{args.config}: {cfg.model_config["type"]} cannot be exported (it '
                                 f'declares exportable = False: no static program can hold it); '
                                 f'run it with predict.py or val.py instead')
    model = build_model(cfg, args.model_path)
    if args.model_path:
        logger.info('Loaded weights from %s.', args.model_path)
    else:
        logger.warning('No --model_path given: exporting the weights the config builds with '
                       '(random unless model.pretrained is set in %s). Pass --model_path with '
                       'your trained model.pdparams to export it.', args.config)
    transforms = config_inference_transforms(cfg)
    calib_images = []
    if args.quantize:
        from ..predict.input_collection import collect_paths
        calib_images = [full for full, _ in collect_paths(args.calib_images, '--calib_images')]
    folder = export_model(model, args.save_dir, transforms,
                          ExportOptions(model_type=cfg.model_config.get('type'),
                                        input_shape=args.input_shape, onnx=args.onnx,
                                        choose_engine=not args.no_engine_choice,
                                        quantize=args.quantize, calib_images=calib_images))
    logger.info('Exported to %s.', os.path.abspath(folder))
    return folder


@reports_user_errors
def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point (``paddlematting-export``); exit status 0 on success, 2 for unusable
    inputs (one line; a model that cannot be exported among them)."""
    run(argv)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Predict alpha mattes with an exported model folder (Paddle Inference), no config or weights needed.

    python deploy/python/infer.py --model_dir output/export --image_path photos/ [--trimap_path trimaps/]
                                  [--save_dir output/infer] [--device cpu|gpu] [--threads N]
                                  [--tensorrt fp32|fp16]
                                  [--backend paddle_inference|onnxruntime|openvino]
                                  [--precision fp32|int8|bf16]
                                  [--background PATH|#RRGGBB|r,g,b]
                                  [--fg_method blur_fusion|multilevel|none] [--temporal_ofd]

The folder comes from ``export.py``; its deploy.yaml carries the preprocessing. For each input
``REL/NAME.ext`` this writes ``save_dir/REL/NAME_alpha.png`` and ``NAME_rgba.png`` (and, with
``--background``, ``NAME_composite.png``; cut-out colours by ``--fg_method``), exactly as
``predict.py --backend inference`` does (same functions). A video input (.mp4 .avi .mov .mkv
.webm) gives ``NAME_alpha.mp4`` (and ``NAME_composite.mp4``), without its audio. Exits 1 when any input failed, 2 when the inputs or --background are
unusable, --model_dir holds no readable export, or a trimap model (deploy.yaml's
``input_names``) gets no --trimap_path; all of these are checked before the model is loaded.
"""
import argparse
import logging
import os
import sys
from typing import List, Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO_ROOT not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, REPO_ROOT)

from paddlematting.cli.errors import reports_user_errors  # noqa: E402
from paddlematting.cli.common import (EXIT_BAD_INPUTS, add_prediction_input_args,  # noqa: E402
                                      claim_output_dir, gather_prediction_args,
                                      prediction_options, report_prediction, setup_logging)
from paddlematting.predict.images import predict_images  # noqa: E402
from paddlematting.inference import Predictor, load_deploy_config  # noqa: E402
from paddlematting.inference.deploy_config import ENGINE_NAMES as ENGINES  # noqa: E402
from paddlematting.inference.precision import PRECISIONS  # noqa: E402

logger = logging.getLogger('paddlematting')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Alpha mattes from an exported model folder.')
    parser.add_argument('--model_dir', required=True, help='A folder written by export.py (has deploy.yaml).')
    add_prediction_input_args(parser)
    parser.add_argument('--save_dir', default='./output/infer', help='Where the PNGs go.')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None,
                        help='Default gpu when Paddle has CUDA and sees a GPU, else cpu.')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads; default the physical cores this process may use.')
    parser.add_argument('--backend', choices=ENGINES, default=None,
                        help="The engine; default on CPU: the one deploy.yaml's cpu_engine names "
                             "(measured fastest at export), else paddle_inference.")
    parser.add_argument('--precision', choices=PRECISIONS, default='fp32',
                        help='int8: model_int8.onnx from export.py --quantize int8 (onnxruntime); '
                             'bf16: bfloat16 on CPUs with bf16 instructions (openvino, else '
                             'paddle_inference; refused elsewhere). Default fp32.')
    parser.add_argument('--tensorrt', choices=('fp32', 'fp16'), default=None,
                        help='Run GPU subgraphs with TensorRT at this precision (GPU builds with TensorRT).')
    return parser.parse_args(argv)


@reports_user_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    setup_logging()
    claim_output_dir(args.save_dir, 'infer')
    gathered = gather_prediction_args(args)
    if gathered is None:
        return EXIT_BAD_INPUTS
    inputs, background = gathered
    try:
        deploy = load_deploy_config(args.model_dir)
    except (OSError, ValueError) as error:  # no deploy.yaml, a malformed one, missing files
        logger.error('%s', error)
        return EXIT_BAD_INPUTS
    if deploy.needs_trimap and args.trimap_path is None:
        logger.error('%s needs a trimap for every image: pass --trimap_path.', args.model_dir)
        return EXIT_BAD_INPUTS
    try:
        predictor = Predictor(args.model_dir, device=args.device, threads=args.threads,
                              tensorrt=args.tensorrt, engine=args.backend, precision=args.precision)
    except (OSError, ValueError) as error:  # e.g. --precision int8 without model_int8.onnx
        logger.error('%s', error)
        return EXIT_BAD_INPUTS
    logger.info('Predicting %d images with %s on %s (%s, %s)...', len(inputs), args.model_dir,
                predictor.device, predictor.engine_name, predictor.precision)
    result = predict_images(predictor, predictor.transforms.transforms, inputs, args.save_dir,
                            prediction_options(args, background, predictor.needs_trimap))
    return report_prediction(result, len(inputs), args.save_dir, composites=background is not None)


if __name__ == '__main__':
    sys.exit(main())

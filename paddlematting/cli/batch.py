"""``paddlematting batch``: matte every image of a folder, list or URI on Ray Data.

    paddlematting batch --input photos/ --output mattes/ --model modnet-mobilenetv2
    paddlematting batch --input s3://bucket/photos --output s3://bucket/mattes \\
        --model modnet --address auto --concurrency 8 --gpus

Writes what predict.py writes (``REL/NAME_alpha.png``, ``REL/NAME_rgba.png``) under the
inputs' relative names, and ``manifest.parquet`` (input, status, outputs, error). Inputs whose
files exist are skipped, so a rerun after a crash finishes the job. Without ``--address`` a
local Ray starts on this machine. Exit status: 0 every image written or skipped, 1 some
failed (listed in the manifest), 2 unusable arguments. Needs ``pip install paddlematting[ray]``.
"""
import argparse
import logging
import sys
from typing import List, Optional

from .common import setup_logging
from .errors import EXIT_BAD_INPUTS, reports_user_errors

logger = logging.getLogger('paddlematting')

EXIT_SOME_FAILED = 1


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from ..batch.options import BatchOptions
    defaults = BatchOptions('', '', '')
    parser = argparse.ArgumentParser(prog='paddlematting batch', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', required=True, metavar='SRC',
                        help='a folder, a .txt/.lst list, an image, or a URI (s3://, gs://, file://)')
    parser.add_argument('--output', required=True, metavar='DST', help='output folder or URI')
    parser.add_argument('--model', required=True, metavar='NAME|CONFIG',
                        help='a zoo name (paddlematting models) or a config file')
    parser.add_argument('--weights', default=None, metavar='FILE', help="replaces the model's weights")
    parser.add_argument('--address', default=None, metavar='ADDR',
                        help='join this Ray cluster (auto, HOST:6379, ray://HOST:10001); '
                             'default: start one on this machine')
    parser.add_argument('--concurrency', type=int, default=None, metavar='N',
                        help='model actors (default: one per GPU with --gpus, else one per CPU; each holds a model)')
    parser.add_argument('--batch-size', type=int, default=defaults.batch_size, metavar='B',
                        help='images per actor call, the unit retried (default %(default)s)')
    parser.add_argument('--gpus', action='store_true', help='one GPU per actor')
    parser.add_argument('--backend', choices=('dygraph', 'inference'), default=defaults.backend,
                        help='inference: export once (cached) and run the fastest engine')
    parser.add_argument('--retries', type=int, default=defaults.retries,
                        help='restarts of a dead actor and retries of its batch (default %(default)s)')
    parser.add_argument('--overwrite', action='store_true', help='redo images whose outputs exist')
    return parser.parse_args(argv)


@reports_user_errors
def main(argv: Optional[List[str]] = None) -> int:
    """Run one batch job; returns 0, 1 (some images failed) or 2 (unusable arguments)."""
    args = parse_args(argv)
    setup_logging()
    try:
        import ray.data  # noqa: F401  (the ray extra)
    except ImportError as error:
        logger.error('paddlematting batch needs Ray Data: pip install "paddlematting[ray]" (%s)',
                     error)
        return EXIT_BAD_INPUTS
    from ..batch import BatchOptions, run_batch
    summary = run_batch(BatchOptions(
        input=args.input, output=args.output, model=args.model, weights=args.weights,
        address=args.address, concurrency=args.concurrency, batch_size=args.batch_size,
        gpus=args.gpus, backend=args.backend, retries=args.retries, overwrite=args.overwrite))
    logger.info('Manifest: %s', summary.manifest)
    return EXIT_SOME_FAILED if summary.failed else 0


if __name__ == '__main__':
    sys.exit(main())

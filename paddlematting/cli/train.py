"""``train.py``: train a matting model from a YAML config (flags as in PaddleSeg Matting).

Several processes: ``python -m paddle.distributed.launch --nproc_per_node 2 train.py ...``
(gloo on CPU, NCCL on GPU); --batch_size is per process.
"""
import argparse
import logging
import sys
from typing import List, Optional

import paddle

from ..builders import Built
from ..engine.runtime import is_main_process, seed_everything
from ..engine.trainer import Trainer, TrainOptions
from ..utils.output_files import check_output_dir, hold_output_dir
from .common import MAX_WORKERS, add_config_args, declared_traits, int_in, start
from .errors import reports_user_errors

logger = logging.getLogger('paddlematting')

EXIT_INTERRUPTED = 130


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a matting model.')
    add_config_args(parser)
    parser.add_argument('--iters', type=int, default=None, help='Total training steps (overrides the config).')
    parser.add_argument('--batch_size', type=int, default=None,
                        help='Samples per process and step (overrides the config).')
    parser.add_argument('--learning_rate', type=float, default=None,
                        help='Base learning rate (overrides the config).')
    parser.add_argument('--save_interval', type=int_in(1, 2 ** 63), default=1000,
                        help='Save a checkpoint (and evaluate with --do_eval) every this many steps.')
    parser.add_argument('--resume_model', default=None,
                        help='Continue from a checkpoint folder (iter_N) or a save_dir holding "latest".')
    parser.add_argument('--save_dir', default='./output', help='Where checkpoints and logs go.')
    parser.add_argument('--keep_checkpoint_max', type=int, default=5,
                        help='Keep only this many newest iter_N checkpoints (<= 0 keeps all).')
    parser.add_argument('--num_workers', type=int_in(0, MAX_WORKERS + 1), default=0, help='Data loader worker processes.')
    parser.add_argument('--do_eval', action='store_true',
                        help='Evaluate on val_dataset at every save and keep best_model by the '
                             'config\'s best_metric (default sad, lower is better).')
    parser.add_argument('--log_iters', type=int_in(1, 2 ** 63), default=10, help='Log every this many steps.')
    parser.add_argument('--use_vdl', action='store_true',
                        help='Record losses, timings, metrics and images for VisualDL '
                             '(save_dir/vdl_log).')
    parser.add_argument('--eval_begin_iters', type=int_in(0, 2 ** 63), default=0,
                        help='Evaluate only from this step on.')
    parser.add_argument('--seed', type=int_in(0, 2 ** 64), default=None,
                        help='Random seed for weights init, sample order and augmentation.')
    parser.add_argument('--amp', action='store_true',
                        help='Mixed precision (auto_cast + GradScaler); GPU only, ignored on CPU.')
    return parser.parse_args(argv)


@reports_user_errors
def main(argv: Optional[List[str]] = None) -> int:
    """Run training; the process exits 0 when done, 130 when stopped by a signal, 2 when the
    config's model cannot be trained."""
    args = parse_args(argv)
    check_output_dir(args.save_dir)  # before any work: a file or read-only folder is refused
    if is_main_process():  # the other processes write nothing there
        hold_output_dir(args.save_dir, 'training')  # one run per folder, until main returns
    if args.seed is not None:
        seed_everything(args.seed)
    cfg, device = start(args, iters=args.iters, batch_size=args.batch_size,
                        learning_rate=args.learning_rate)
    traits = declared_traits(cfg)
    if not traits.trainable:
        raise ValueError(f'{args.config}: {cfg.model_config["type"]} cannot be trained: '
                         f'{traits.untrainable_reason} (it declares trainable = False); '
                         f'evaluate it with val.py or run it with predict.py')
    if is_main_process():
        logger.info('Config (merged)\n%s', cfg)
    options = TrainOptions(
        iters=cfg.iters, batch_size=cfg.batch_size, save_dir=args.save_dir,
        save_interval=args.save_interval, log_iters=args.log_iters,
        keep_checkpoint_max=args.keep_checkpoint_max, num_workers=args.num_workers,
        use_vdl=args.use_vdl, eval_begin_iters=args.eval_begin_iters, seed=args.seed,
        amp=args.amp, resume_model=args.resume_model, best_metric=cfg.best_metric)
    built = Built(cfg)
    model = built.model  # first, as before: weights initialise from paddle's seed
    scheduler = built.lr_scheduler
    trainer = Trainer(model, built.optimizer, built.train_dataset, options,
                      val_dataset=built.val_dataset if args.do_eval else None,
                      lr_scheduler=scheduler if isinstance(scheduler, paddle.optimizer.lr.LRScheduler)
                      else None)
    outcome = trainer.train()
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if is_main_process():
        logger.info('Training finished at iter %d; checkpoints in %s.', outcome.iteration,
                    args.save_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""The training loop: steps, logging, evaluation, checkpoints, resume and clean interruption.

Rank 0 logs, evaluates and saves; every rank trains. A run is resumable at any saved
iteration with the same result as an uninterrupted one, because the checkpoint holds the
weights, the optimizer moments, the learning-rate schedule and the random states, and the
sample order and augmentation are functions of (seed, epoch, index) (see ``sample_order``).
"""
import gc
import logging
import math
import os
import signal
import threading
import warnings
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import paddle
import paddle.distributed as dist

from . import checkpoint, run_state
from ..metrics import default_metric_names, metric_classes
from .evaluator import EvalOptions, EvalResult, evaluate
from ..pipeline.runner import dygraph_runner
from .runtime import capture_rng_state, init_distributed, is_main_process, restore_rng_state
from .sample_errors import SampleError
from .sample_order import ResumableBatchSampler, SeededSamples, iterate_batches
from .vdl_log import VdlLog

logger = logging.getLogger(__name__)
# paddle repeats this on every train-mode BatchNorm call; it describes intended behaviour
warnings.filterwarnings('ignore', message='When training, we now always track global mean and variance')


@dataclass
class TrainOptions:
    """How to train; the names and meanings follow PaddleSeg Matting's train.py flags.

    Attributes:
        iters: total optimizer steps.
        batch_size: samples per process and step.
        save_interval: save (and evaluate) every this many steps, and at the last one.
        log_iters: log averaged losses and timings every this many steps.
        keep_checkpoint_max: how many iter_N folders to keep (<= 0 keeps all).
        eval_begin_iters: evaluate only from this step on.
        seed: sample-order/augmentation seed; None draws one (stored for resume).
        amp: mixed precision (GPU only).
        resume_model: an iter_N folder, or a save_dir whose ``latest`` names one.
        metric_names: the validation metrics; None for the default ones
            (``metrics.default_metric_names()``).
        best_metric: the registered metric (lower-case name) that picks best_model; it is
            evaluated even when ``metric_names`` leaves it out. Lower is better unless the
            metric class sets ``lower_is_better = False``.
        vdl_images: how many val images to show in VisualDL at each evaluation.
    """
    iters: int
    batch_size: int
    save_dir: str = 'output'
    save_interval: int = 1000
    log_iters: int = 10
    keep_checkpoint_max: int = 5
    num_workers: int = 0
    use_vdl: bool = False
    eval_begin_iters: int = 0
    seed: Optional[int] = None
    amp: bool = False
    resume_model: Optional[str] = None
    metric_names: Optional[Sequence[str]] = None
    best_metric: str = 'sad'
    vdl_images: int = 3


class NonFiniteLossError(ValueError):
    """A step's loss was NaN or infinite: training stopped before the step changed anything
    (the message names the iteration and the last checkpoint)."""


@dataclass
class TrainOutcome:
    """How a run ended.

    Attributes:
        iteration: steps completed (and saved).
        interrupted: the run stopped early on SIGINT/SIGTERM (to any of its processes).
        losses: this process's total loss ('all') of every step it ran, in order.
        step_seconds / reader_seconds: wall time of each step, and the part of it spent
            waiting for the batch (data loading).
        last_checkpoint: the newest iter_N folder (rank 0; None elsewhere).
        best_score / best_iter: the best ``best_metric`` value so far and where (None
            without eval).
        last_eval: the metrics of the latest evaluation, if any.
    """
    iteration: int
    interrupted: bool = False
    losses: List[float] = field(default_factory=list)
    step_seconds: List[float] = field(default_factory=list)
    reader_seconds: List[float] = field(default_factory=list)
    last_checkpoint: Optional[str] = None
    best_score: Optional[float] = None
    best_iter: Optional[int] = None
    last_eval: Optional[Dict[str, float]] = None


class _StopSignal:
    """While active, SIGINT/SIGTERM only raise a flag that the loop checks between steps.

    Stopping between steps keeps weights, optimizer and iteration count consistent for the
    final checkpoint. Repeated SIGTERMs never abort that: ``paddle.distributed.launch`` sends
    up to three, 0.2 s apart, for one stop request (SIGKILL is the way to stop at once).
    A second SIGINT (Ctrl-C pressed again) raises KeyboardInterrupt at once, without a
    checkpoint, so a run stuck inside a step can still be stopped from the terminal; one
    arriving within ``REPEAT_WINDOW_S`` of the first is taken as the same request (a terminal
    signals the launcher and the trainers alike).
    """

    REPEAT_WINDOW_S = 2.0

    def __init__(self) -> None:
        self.received: Optional[str] = None
        self._first_at = 0.0
        self._previous: Dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name
            self._first_at = time.monotonic()
        elif signum == signal.SIGINT and time.monotonic() - self._first_at > self.REPEAT_WINDOW_S:
            raise KeyboardInterrupt

    def __enter__(self) -> '_StopSignal':
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _LogWindow:
    """Losses and timings summed since the last log line."""

    def __init__(self) -> None:
        self.steps = 0
        self.losses: Dict[str, float] = defaultdict(float)
        self.reader_seconds = 0.0
        self.step_seconds = 0.0

    def add(self, losses: Dict[str, float], reader_seconds: float, step_seconds: float) -> None:
        self.steps += 1
        for name, value in losses.items():
            self.losses[name] += value
        self.reader_seconds += reader_seconds
        self.step_seconds += step_seconds

    def mean_losses(self) -> Dict[str, float]:
        return {name: total / self.steps for name, total in self.losses.items()}


def format_eta(seconds: float) -> str:
    """Seconds as H:MM:SS (hours may exceed 24)."""
    seconds = max(0, int(round(seconds)))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


def _jsonable(value: Any) -> Any:
    """Numpy scalars/arrays and paddle Tensors inside dicts/lists as plain python values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, paddle.Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _to_tensors(batch: Dict[str, Any]) -> Dict[str, Any]:
    """Stacked numpy arrays of a batch as paddle Tensors (lists and Tensors unchanged)."""
    return {key: paddle.to_tensor(value) if isinstance(value, np.ndarray) else value
            for key, value in batch.items()}


def _agree_on_seed(seed: Optional[int]) -> int:
    """The given seed, or a fresh random one shared by every process."""
    if seed is None:
        seed = int.from_bytes(os.urandom(4), 'little') >> 1
    if dist.is_initialized() and dist.get_world_size() > 1:
        shared = paddle.to_tensor([seed], dtype='int64')
        dist.broadcast(shared, src=0)
        seed = int(shared.numpy()[0])
    return seed


def agree_on_stop(requested: bool, world_size: int) -> bool:
    """True when this process or any other asked to stop; every process gets the same answer.

    Each process catches its own signals, so with several processes the flags are combined
    (an all-reduce MAX of one integer, called by every process at the same point of every
    step): all stop after the same step instead of one waiting forever for the others.

    Args:
        requested: this process received SIGINT/SIGTERM.
        world_size: the number of training processes (1: no communication).
    """
    if world_size <= 1:
        return requested
    flag = paddle.to_tensor([1 if requested else 0], dtype='int64')
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(int(flag.numpy()[0]))


class Trainer:
    """Train a matting model.

    Args:
        model: a registered matting model (train mode returns a logit dict and
            ``model.loss(logits, batch)`` returns a dict of scalar losses with ``all``).
        optimizer: built over ``model.parameters()``.
        train_dataset: map-style dataset of train-mode sample dicts.
        options: see ``TrainOptions``.
        val_dataset: evaluated on rank 0 every save_interval steps when given.
        lr_scheduler: the optimizer's scheduler, stepped once per iteration (None for a
            constant learning rate).
    """

    def __init__(self, model: paddle.nn.Layer, optimizer: paddle.optimizer.Optimizer,
                 train_dataset: paddle.io.Dataset, options: TrainOptions,
                 val_dataset: Optional[paddle.io.Dataset] = None,
                 lr_scheduler: Optional[paddle.optimizer.lr.LRScheduler] = None) -> None:
        if len(train_dataset) == 0:
            raise ValueError('The training dataset is empty; check train_file and dataset_root '
                             'in the config.')
        if options.iters < 1 or options.batch_size < 1:
            raise ValueError(f'iters and batch_size must be >= 1, got iters={options.iters}, '
                             f'batch_size={options.batch_size}.')
        self.model = model
        self.optimizer = optimizer
        self.train_dataset = train_dataset
        self.val_dataset = val_dataset
        self.options = options
        self.lr_scheduler = lr_scheduler
        self.world_size = init_distributed()
        self.is_main = is_main_process()
        self.scaler = None
        if options.amp:
            if paddle.get_device().startswith('gpu'):
                self.scaler = paddle.amp.GradScaler(init_loss_scaling=1024)
            else:
                logger.warning('--amp is ignored on CPU: paddle mixed precision needs a GPU; '
                               'training in float32.')
        self.best_score: Optional[float] = None
        self.best_iter: Optional[int] = None
        self.sample_seed: Optional[int] = None
        self._saved_rng: Optional[Dict[str, Any]] = None  # restored right before the loop

    # ---- checkpoint state -------------------------------------------------------------
    def _run_state(self, iteration: int) -> Dict[str, Any]:
        return _jsonable({
            'iter': iteration,
            'best_metric': self.options.best_metric,
            'best_score': self.best_score,
            'best_iter': self.best_iter,
            'sample_seed': self.sample_seed,
            'world_size': self.world_size,
            'batch_size': self.options.batch_size,
            'lr_scheduler': self.lr_scheduler.state_dict() if self.lr_scheduler else None,
            'grad_scaler': self.scaler.state_dict() if self.scaler else None,
            'rng': capture_rng_state(),
        })

    def _resume(self) -> int:
        state = checkpoint.load_checkpoint(self.options.resume_model, self.model, self.optimizer)
        self._check_resumed_state(state)
        if self.lr_scheduler is not None and state.get('lr_scheduler'):
            self.lr_scheduler.set_state_dict(state['lr_scheduler'])
        if self.scaler is not None and state.get('grad_scaler'):
            self.scaler.load_state_dict(state['grad_scaler'])
        if state.get('best_metric', self.options.best_metric) == self.options.best_metric:
            self.best_score, self.best_iter = state.get('best_score'), state.get('best_iter')
        else:  # scores of another metric cannot be compared: the next evaluation starts afresh
            logger.warning('The checkpoint kept best_model by %s; this run keeps it by %s.',
                           state['best_metric'], self.options.best_metric)
        saved_seed = state.get('sample_seed')
        if saved_seed is not None:
            if self.options.seed is not None and self.options.seed != saved_seed:
                logger.warning('--seed %s differs from the checkpoint\'s sample seed %s; using '
                               'the checkpoint\'s so the data order continues exactly.',
                               self.options.seed, saved_seed)
            self.sample_seed = saved_seed
        if state.get('world_size', self.world_size) != self.world_size or \
                state.get('batch_size', self.options.batch_size) != self.options.batch_size:
            logger.warning('Resuming with %d process(es) x batch %d, but the checkpoint was '
                           'trained with %s x %s; the data order will not match exactly.',
                           self.world_size, self.options.batch_size, state.get('world_size'),
                           state.get('batch_size'))
        self._saved_rng = state.get('rng')
        logger.info('Resumed from %s at iter %d.', state['folder'], state.get('iter', 0))
        return int(state.get('iter', 0))

    def _check_resumed_state(self, state: Dict[str, Any]) -> None:
        """The parts of state.json that must fit this run's objects: the schedule's and the
        gradient scaler's states (same keys and kinds), the number of paddle generators."""
        path = os.path.join(state['folder'], checkpoint.STATE_FILE)
        if self.lr_scheduler is not None and state.get('lr_scheduler'):
            run_state.check_like(state['lr_scheduler'], self.lr_scheduler.state_dict(), path,
                                 'lr_scheduler')
        if self.scaler is not None and state.get('grad_scaler'):
            run_state.check_like(state['grad_scaler'], self.scaler.state_dict(), path,
                                 'grad_scaler')
        if state.get('rng'):
            run_state.paddle_generator_count_matches(state['rng']['paddle'],
                                                     len(paddle.get_rng_state()), path)

    def _save(self, iteration: int) -> str:
        return checkpoint.save_checkpoint(self.options.save_dir, iteration, self.model,
                                          self.optimizer, self._run_state(iteration),
                                          self.options.keep_checkpoint_max)

    # ---- one step ---------------------------------------------------------------------
    def _step(self, net: paddle.nn.Layer, batch: Dict[str, Any], run: '_Run') -> Dict[str, float]:
        batch = _to_tensors(batch)
        with paddle.amp.auto_cast(enable=self.scaler is not None):
            logits = net(batch)
            losses = self.model.loss(logits, batch)
        if 'all' not in losses:
            raise KeyError(f'{type(self.model).__name__}.loss() returned keys {sorted(losses)}; '
                           f"it must include the total under 'all'.")
        values = {name: float(value) for name, value in losses.items()}
        if not all(math.isfinite(v) for v in values.values()):
            # before backward: the weights, moments and schedule stay those of the last step
            raise NonFiniteLossError(self._non_finite_message(values, run))
        if self.scaler is not None:
            self.scaler.scale(losses['all']).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            losses['all'].backward()
            self.optimizer.step()
        self.optimizer.clear_grad()
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        return values

    def _non_finite_message(self, losses: Dict[str, float], run: '_Run') -> str:
        terms = ', '.join(f'{name}={value}' for name, value in losses.items())
        last = run.last_saved or checkpoint.latest_checkpoint(self.options.save_dir)
        kept = f'the last checkpoint, {last}, is intact' if last else 'no checkpoint was saved yet'
        return (f'Training stopped at iter {run.iteration + 1}: the loss is not finite ({terms}); '
                f'nothing of that step was applied or saved and {kept}. Lower the learning rate '
                f'or check that step\'s samples, then resume with --resume_model '
                f'{self.options.save_dir}')

    # ---- evaluation -------------------------------------------------------------------
    def _evaluate(self, iteration: int, vdl: VdlLog) -> EvalResult:
        logger.info('[EVAL] iter %d: evaluating %d images...', iteration, len(self.val_dataset))
        with paddle.no_grad():
            names = list(self.options.metric_names or default_metric_names())
            if self.options.best_metric not in names:
                names.append(self.options.best_metric)
            examples = self.options.vdl_images if self.options.use_vdl else 0
            result = evaluate(dygraph_runner(self.model), self.val_dataset,
                              EvalOptions(metric_names=names, num_examples=examples))
        self.model.train()
        gc.collect()
        if paddle.get_device().startswith('gpu'):
            paddle.device.cuda.empty_cache()
        logger.info('[EVAL] iter %d: %s (%.1f s)', iteration, result.summary(), result.seconds)
        name = self.options.best_metric
        score = result.metrics.get(name)
        if score is not None and (self.best_score is None or self._better(score, self.best_score)):
            self.best_score, self.best_iter = score, iteration
            checkpoint.write_snapshot(
                os.path.join(self.options.save_dir, checkpoint.BEST_DIR), self.model, None,
                _jsonable({'iter': iteration, 'metrics': result.metrics}))
        if self.best_score is not None:
            logger.info('[EVAL] best validation %s %.4f at iter %d (saved in %s).',
                        name.upper(), self.best_score, self.best_iter,
                        os.path.join(self.options.save_dir, checkpoint.BEST_DIR))
        vdl.scalars('Evaluate', {name.upper(): v for name, v in result.metrics.items()},
                    iteration)
        vdl.eval_examples(result.examples, iteration)
        return result

    def _better(self, score: float, best: float) -> bool:
        """Whether ``score`` beats ``best`` by the direction ``best_metric`` declares."""
        lower = getattr(metric_classes()[self.options.best_metric], 'lower_is_better', True)
        return score < best if lower else score > best

    # ---- the loop ---------------------------------------------------------------------
    def train(self) -> TrainOutcome:
        """Run until ``options.iters`` steps or a stop signal; return how it ended."""
        start_iter = self._start()
        outcome = TrainOutcome(iteration=start_iter, best_score=self.best_score,
                               best_iter=self.best_iter)
        if start_iter >= self.options.iters:
            logger.info('Nothing to do: the checkpoint is at iter %d and iters is %d.',
                        start_iter, self.options.iters)
            return outcome
        run = self._open_run(start_iter, outcome)
        try:
            self._run_until_done_or_stopped(run)
        except SampleError:
            # a bad sample fails between steps, when weights and optimizer agree: keep the
            # work done so far, then report the sample
            if self.is_main and run.iteration > start_iter and run.last_saved_iter != run.iteration:
                logger.warning('Saved checkpoint %s before stopping on a bad sample.',
                               self._save(run.iteration))
            raise
        finally:
            run.vdl.close()
        outcome.iteration = run.iteration
        outcome.last_checkpoint = run.last_saved
        outcome.best_score, outcome.best_iter = self.best_score, self.best_iter
        return outcome

    def _start(self) -> int:
        """Make save_dir, drop half-written checkpoints, resume, agree on the sample seed;
        return the iteration the run starts from."""
        os.makedirs(self.options.save_dir, exist_ok=True)
        if self.is_main:
            checkpoint.remove_partial_folders(self.options.save_dir)
        start_iter = self._resume() if self.options.resume_model else 0
        if self.sample_seed is None:
            self.sample_seed = _agree_on_seed(self.options.seed)
        return start_iter

    def _open_run(self, start_iter: int, outcome: TrainOutcome) -> '_Run':
        """The network (DataParallel with several processes), the seeded sample order and its
        loader, the VisualDL log; then the random states of a resumed run are restored."""
        opts = self.options
        self.model.train()
        net = paddle.DataParallel(self.model) if self.world_size > 1 else self.model
        sampler = ResumableBatchSampler(self.train_dataset, opts.batch_size, self.sample_seed)
        if len(sampler) == 0:
            raise ValueError(f'The training dataset has {len(self.train_dataset)} samples, fewer '
                             f'than batch_size x processes = {opts.batch_size} x '
                             f'{self.world_size}; lower --batch_size.')
        loader = iterate_batches(SeededSamples(self.train_dataset, self.sample_seed), sampler,
                                 opts.num_workers)
        vdl = VdlLog(os.path.join(opts.save_dir, 'vdl_log') if opts.use_vdl and self.is_main
                     else None)
        if self._saved_rng is not None:
            restore_rng_state(self._saved_rng)
        return _Run(net, sampler, loader, vdl, outcome, start_iter, start_iter)

    def _run_until_done_or_stopped(self, run: '_Run') -> None:
        iters_per_epoch = len(run.sampler)
        with _StopSignal() as stop:
            # checked once before the loop and once after every step, by every process
            stopping = agree_on_stop(stop.received is not None, self.world_size)
            while run.iteration < self.options.iters and not stopping:
                epoch, skip = divmod(run.iteration, iters_per_epoch)
                run.sampler.start(epoch, skip)
                stopping = self._run_epoch(run, epoch, stop)
            if stopping:
                run.outcome.interrupted = True
                if self.is_main:
                    if run.last_saved_iter != run.iteration:
                        run.last_saved = self._save(run.iteration)
                    logger.warning('Stopped by %s after iter %d; checkpoint %s. Continue with '
                                   '--resume_model %s',
                                   stop.received or 'a signal to another process', run.iteration,
                                   run.last_saved, self.options.save_dir)

    def _run_epoch(self, run: '_Run', epoch: int, stop: _StopSignal) -> bool:
        """Step through the rest of one epoch; return whether the processes agreed to stop
        (False when the epoch or the run ended)."""
        tic = time.time()
        for batch in run.loader:
            reader_seconds = time.time() - tic
            lr = self.optimizer.get_lr()
            losses = self._step(run.net, batch, run)
            run.iteration += 1
            step_seconds = time.time() - tic
            run.outcome.losses.append(losses['all'])
            run.outcome.reader_seconds.append(reader_seconds)
            run.outcome.step_seconds.append(step_seconds)
            run.window.add(losses, reader_seconds, step_seconds)
            if run.iteration % self.options.log_iters == 0:
                if self.is_main:
                    self._log_train(epoch + 1, run.iteration, lr, run.window, run.vdl)
                run.window = _LogWindow()
            self._checkpoint_if_due(run)
            stopping = agree_on_stop(stop.received is not None, self.world_size)
            if run.iteration >= self.options.iters or stopping:
                return stopping
            tic = time.time()
        return False

    def _checkpoint_if_due(self, run: '_Run') -> None:
        """At every save_interval and the last step: evaluate (rank 0, with a val set), then
        save a checkpoint."""
        iteration, opts = run.iteration, self.options
        if iteration % opts.save_interval != 0 and iteration != opts.iters:
            return
        if self.is_main:
            # evaluate first: the checkpoint's state.json then holds the best score including
            # this step's, so a resume from it cannot let a worse later score replace best_model
            if self.val_dataset is not None and iteration >= opts.eval_begin_iters:
                run.outcome.last_eval = self._evaluate(iteration, run.vdl).metrics
            run.last_saved = self._save(iteration)
            logger.info('Saved checkpoint %s', run.last_saved)
        run.last_saved_iter = iteration

    def _log_train(self, epoch: int, iteration: int, lr: float, window: _LogWindow,
                   vdl: VdlLog) -> None:
        means = window.mean_losses()
        terms = ' '.join(f'{name}={value:.4f}' for name, value in means.items() if name != 'all')
        batch_cost = window.step_seconds / window.steps
        reader_cost = window.reader_seconds / window.steps
        eta = format_eta((self.options.iters - iteration) * batch_cost)
        samples = self.options.batch_size * self.world_size
        ips = samples / batch_cost if batch_cost > 0 else math.inf
        logger.info('[TRAIN] epoch=%d, iter=%d/%d, loss=%.4f [%s], lr=%.6f, batch_cost=%.4f s, '
                    'reader_cost=%.5f s, ips=%.2f samples/s | ETA %s', epoch, iteration,
                    self.options.iters, means['all'], terms, lr, batch_cost, reader_cost, ips, eta)
        vdl.scalars('Train', {**means, 'lr': lr, 'batch_cost': batch_cost,
                              'reader_cost': reader_cost}, iteration)


@dataclass
class _Run:
    """One call of ``Trainer.train``: what it steps through and how far it got."""
    net: paddle.nn.Layer
    sampler: ResumableBatchSampler
    loader: Any
    vdl: VdlLog
    outcome: TrainOutcome
    start_iter: int
    iteration: int
    last_saved: Optional[str] = None  # the newest iter_N folder this run wrote (rank 0)
    last_saved_iter: Optional[int] = None  # the iteration it holds (every rank)
    window: _LogWindow = field(default_factory=_LogWindow)

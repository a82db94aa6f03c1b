"""Evaluate a runner on a validation dataset: per-image and mean SAD / MSE / Grad / Conn.

Each prediction is restored to the original size and compared with the untouched ground
truth (``ori_alpha``); when the dataset provides ``ori_trimap`` the metric classes apply
the benchmark's trimap convention themselves.
"""
import csv
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import paddle
from tqdm import tqdm

from ..metrics import build_metrics, default_metric_names
from ..pipeline.outputs import (DEFAULT_FG_METHOD, OutputOptions, alpha_to_uint8, make_outputs,
                                save_outputs)
from ..pipeline.prediction import Runner, finish_alpha
from ..pipeline.runner import shape_checked
from ..utils.output_files import atomic_write
from ..utils.trimap_values import TRIMAP_UNKNOWN, force_known_regions
from .sample_order import iterate_batches

logger = logging.getLogger(__name__)
PER_IMAGE_CSV = 'metrics_per_image.csv'


@dataclass
class EvalResult:
    """What one evaluation produced.

    Attributes:
        metrics: mean of each metric over the images, keyed by lower-case name.
        per_image: one dict per image: ``img_name`` and each metric's value.
        examples: up to ``num_examples`` dicts with ``img_name``, ``input`` (the network
            input rescaled to uint8 [H,W,3]), ``pred`` and ``gt`` (uint8 [H0,W0]).
        seconds: wall time of the whole loop.
        unscored: names of the images whose trimap has no unknown pixel: there is nothing
            to score, so their rows hold NaN and they are left out of the means.
    """
    metrics: Dict[str, float]
    per_image: List[Dict[str, object]] = field(default_factory=list)
    examples: List[Dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0
    unscored: List[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line such as 'SAD: 12.3456, MSE: 0.0123, ...'."""
        return ', '.join(f'{name.upper()}: {value:.4f}' for name, value in self.metrics.items())


@dataclass
class EvalOptions:
    """How to evaluate; the names follow PaddleSeg Matting's val.py flags.

    Attributes:
        metric_names: registered metric names (``metrics.metric_names()``); None for the
            default ones (``metrics.default_metric_names()``).
        num_workers: data loader worker processes.
        save_dir: when given, ``metrics_per_image.csv`` is written there.
        save_results: also write each alpha as an 8-bit PNG under save_dir, at its
            ``img_name`` with the extension .png (see ``result_name``; known trimap regions
            set to 0/255, as the metrics see it).
        show_progress: a progress bar on stderr.
        num_examples: how many (input, prediction, ground truth) triples to keep for display.
        background: uint8 [Hb, Wb, 3] RGB; with ``save_results`` each image is also cut out
            with its saved alpha (colours from ``cutout_foreground`` with ``fg_method``) and
            written over it as ``<name>_composite.png``. Needs a dataset with
            ``load_sample(idx)`` (MattingDataset), which gives the untransformed image.
        fg_method: see ``pipeline.outputs.FG_METHODS``.
    """
    metric_names: Optional[Sequence[str]] = None
    num_workers: int = 0
    save_dir: Optional[str] = None
    save_results: bool = False
    show_progress: bool = True
    num_examples: int = 0
    background: Optional[np.ndarray] = None
    fg_method: str = DEFAULT_FG_METHOD


def result_name(img_name: str) -> str:
    """The output name (``pipeline.outputs``) of ``img_name``'s saved results: its path
    without the extension; a leading '/', a drive and '..' parts are dropped, so the files
    are always under save_dir (``val/fg/x.jpg`` -> ``val/fg/x``, written as ``x.png``, a
    file holding PNG bytes whatever the input's format)."""
    stem = os.path.splitext(img_name)[0].replace('\\', '/')
    stem = os.path.splitdrive(stem)[1]
    parts = [part for part in stem.split('/') if part not in ('', '.', '..')]
    return os.path.join(*parts) if parts else 'unnamed'


def unique_result_name(img_name: str, taken: Dict[str, str]) -> str:
    """``result_name``, unless another image already took that name (``x.png`` and
    ``x.jpg`` both give ``x``): then the extension is kept, ``x.jpg`` (written ``x.jpg.png``).

    Args:
        taken: result name -> image name, filled in here; one dict per evaluation.
    """
    name = result_name(img_name)
    if taken.setdefault(name, img_name) != img_name:
        name = result_name(img_name.replace('\\', '/').rstrip('/') + '.png')
        if taken.setdefault(name, img_name) != img_name:
            raise ValueError(f'two val images are both named {img_name!r}; result PNGs would '
                             f'overwrite each other')
    return name


def saved_result_options(options: EvalOptions) -> OutputOptions:
    """What ``save_results`` writes: the matte as ``<name>.png`` (PaddleSeg's val.py names),
    no cut-out, and the composite over ``options.background`` when one is given."""
    return OutputOptions(cutout=False, background=options.background,
                         fg_method=options.fg_method, save_names='paddleseg')


def write_per_image_csv(path: str, per_image: List[Dict[str, object]],
                        metric_names: Sequence[str], means: Dict[str, float]) -> None:
    """CSV with a header ``img_name,<metric>...``, one row per image and a final ``mean`` row."""
    with atomic_write(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['img_name', *metric_names])
        for row in per_image:
            writer.writerow([row['img_name'], *(f'{row[m]:.6f}' for m in metric_names)])
        writer.writerow(['mean', *(f'{means[m]:.6f}' for m in metric_names)])


def report_unscored(names: List[str], total: int) -> None:
    """Log the images whose trimap has no unknown region; raise when no image is left."""
    shown = ', '.join(names[:5]) + (f' and {len(names) - 5} more' if len(names) > 5 else '')
    if len(names) == total:
        raise ValueError(f'No val image can be scored: every trimap has an empty unknown '
                         f'region (value 128, or 1 in a 0/1/2 label trimap), e.g. {shown}; '
                         f'check the trimap files.')
    logger.warning('%d of %d val images have no unknown region in their trimap, so there is '
                   'nothing to score; they are left out of the means (NaN in the CSV): %s',
                   len(names), total, shown)


def network_input_picture(img_chw: np.ndarray) -> np.ndarray:
    """A normalised image float [3,H,W] stretched to uint8 [H,W,3] for display.

    The values are shifted and scaled so their minimum becomes 0 and their maximum 255
    (a constant image becomes all zeros).
    """
    img = np.transpose(np.asarray(img_chw, dtype=np.float32), (1, 2, 0))
    low, high = float(img.min()), float(img.max())
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.clip((img - low) * scale, 0, 255).astype(np.uint8)


def as_numpy(value: Any) -> np.ndarray:
    """A paddle Tensor or array-like as a numpy array (no copy for numpy input)."""
    if isinstance(value, paddle.Tensor):
        return value.numpy()
    return np.asarray(value)


def predict_batch(runner: Runner, batch: dict) -> List[np.ndarray]:
    """Alphas of a collated batch of val samples, restored to each image's original size.

    Args:
        runner: see ``pipeline.runner``.
        batch: a collated sample dict with ``img`` [N,3,H,W], optional ``trimap``
            [N,1,H,W] and ``trans_info`` (one list per image).

    Returns:
        N uint8 arrays [H0, W0] in [0, 255] (no trimap forcing: the metrics do that).
    """
    img = as_numpy(batch['img']).astype(np.float32, copy=False)
    trimap = batch.get('trimap')
    if trimap is not None:
        trimap = as_numpy(trimap).astype(np.float32, copy=False)
    alpha = shape_checked(runner)(img, trimap)
    trans_infos = batch.get('trans_info') or [[] for _ in range(len(alpha))]
    return [alpha_to_uint8(finish_alpha(alpha[i, 0], trans_infos[i])) for i in range(len(alpha))]


class _ResultSaver:
    """Writes each evaluated image's matte (and composite) for ``save_results``."""

    def __init__(self, dataset: Any, options: EvalOptions):
        self.dataset = dataset
        self.save_dir = options.save_dir
        self.outputs = saved_result_options(options)
        self.taken: Dict[str, str] = {}

    def save(self, pred: np.ndarray, trimap: Optional[np.ndarray], img_name: str,
             index: int) -> None:
        """``pred`` uint8 [H0,W0] of dataset sample ``index``, with the trimap's known regions
        set, as the metrics see it."""
        saved = force_known_regions(pred, trimap)
        # batches hold one image each, taken in dataset order
        image = self.dataset.load_sample(index)['img'] if self.outputs.needs_foreground else None
        save_outputs(make_outputs(image, saved, self.outputs), self.save_dir,
                     unique_result_name(img_name, self.taken), self.outputs)


def _check_evaluation(dataset: Any, options: EvalOptions) -> None:
    if len(dataset) == 0:
        raise ValueError('The validation dataset is empty; check val_file in the config.')
    if options.save_results and not options.save_dir:
        raise ValueError('save_results=True needs a save_dir to write the alphas into.')
    if options.save_results and options.background is not None and not hasattr(dataset, 'load_sample'):
        raise ValueError(f'Saving composites needs the untransformed images, which '
                         f'{type(dataset).__name__} does not provide (no load_sample method).')


def _score(metrics: Dict[str, Any], pred: np.ndarray, gt: np.ndarray,
           trimap: Optional[np.ndarray], name: str, result: EvalResult) -> None:
    """Add one image's row to ``result`` (NaN, and listed as unscored, when its trimap has
    no unknown pixel: errors are summed over the unknown region, an empty one would score 0)."""
    row: Dict[str, object] = {'img_name': name}
    if trimap is not None and not np.any(trimap == TRIMAP_UNKNOWN):
        result.unscored.append(name)
        row.update((metric_name, float('nan')) for metric_name in metrics)
    for metric_name, metric in metrics.items():
        if metric_name not in row:
            row[metric_name] = metric.update(pred, gt, trimap)
    result.per_image.append(row)


def evaluate(runner: Runner, dataset: paddle.io.Dataset,
             options: Optional[EvalOptions] = None) -> EvalResult:
    """Predict every image of a val-mode dataset and score it.

    Args:
        runner: see ``paddlematting.pipeline.runner``.
        dataset: samples with ``img``, ``trans_info``, ``ori_alpha`` uint8 [H0,W0], optional
            ``trimap``/``ori_trimap`` and ``img_name``.
        options: see ``EvalOptions``; None for the defaults (every metric, nothing saved).
    """
    options = options or EvalOptions()
    _check_evaluation(dataset, options)
    metrics = build_metrics(list(options.metric_names or default_metric_names()))
    # one image per batch: val images keep their own sizes
    loader = iterate_batches(dataset, paddle.io.BatchSampler(dataset, batch_size=1),
                             options.num_workers)
    saver = _ResultSaver(dataset, options) if options.save_results else None
    result = EvalResult(metrics={})
    start = time.time()
    for batch in tqdm(loader, total=len(dataset), desc='eval', unit='img',
                      disable=not options.show_progress, dynamic_ncols=True):
        for i, pred in enumerate(predict_batch(runner, batch)):
            index = len(result.per_image)
            gt = as_numpy(batch['ori_alpha'][i])
            trimap = batch.get('ori_trimap')
            trimap = None if trimap is None else as_numpy(trimap[i]).astype(np.uint8)
            name = batch['img_name'][i] if 'img_name' in batch else f'{index}'
            _score(metrics, pred, gt, trimap, name, result)
            if saver is not None:
                saver.save(pred, trimap, name, index)
            if len(result.examples) < options.num_examples:
                result.examples.append({'img_name': name, 'pred': pred, 'gt': gt,
                                        'input': network_input_picture(as_numpy(batch['img'][i]))})
    result.seconds = time.time() - start
    if result.unscored:
        report_unscored(result.unscored, len(result.per_image))
    result.metrics = {name: metric.evaluate() for name, metric in metrics.items()}
    if options.save_dir:
        write_per_image_csv(os.path.join(options.save_dir, PER_IMAGE_CSV), result.per_image,
                            list(metrics), result.metrics)
    return result

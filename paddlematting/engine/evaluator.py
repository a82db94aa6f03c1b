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
from typing import Dict, List, Optional, Sequence

import numpy as np
import paddle
from tqdm import tqdm

from ..metrics import build_metrics, metric_names as registered_metric_names
from ..pipeline.prediction import Runner
from ..utils.trimap_values import force_known_regions
from ..utils.image_io import write_png
from ..utils.output_files import atomic_write
from ..utils.trimap_values import TRIMAP_UNKNOWN
from ..pipeline.runner import as_numpy, predict_batch
from .sample_order import iterate_batches
from ..pipeline.outputs import DEFAULT_FG_METHOD, composite, cutout_foreground

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


def result_path(save_dir: str, img_name: str) -> str:
    """Where ``--save_results`` writes the alpha of ``img_name``: ``save_dir/<stem>.png``.

    The extension is always .png (the file holds PNG bytes whatever the input's format);
    a leading '/', a drive and '..' parts are dropped, so the file is always under save_dir.
    """
    stem = os.path.splitext(img_name)[0].replace('\\', '/')
    stem = os.path.splitdrive(stem)[1]
    parts = [part for part in stem.split('/') if part not in ('', '.', '..')]
    return os.path.join(save_dir, *parts[:-1], (parts[-1] if parts else 'unnamed') + '.png')


def unique_result_path(save_dir: str, img_name: str, taken: Dict[str, str]) -> str:
    """``result_path``, unless another image already took that path (``x.png`` and
    ``x.jpg`` both give ``x.png``): then the extension is kept, ``x.jpg.png``.

    Args:
        taken: result path -> image name, filled in here; one dict per evaluation.
    """
    path = result_path(save_dir, img_name)
    if taken.setdefault(path, img_name) != img_name:
        path = result_path(save_dir, img_name.replace('\\', '/').rstrip('/') + '.png')
        if taken.setdefault(path, img_name) != img_name:
            raise ValueError(f'two val images are both named {img_name!r}; result PNGs would '
                             f'overwrite each other')
    return path


def composite_path(result_png: str) -> str:
    """Where ``--save_results`` with a background writes the composite whose alpha went to
    ``result_png``: the same name with ``_composite`` before ``.png``."""
    return result_png[:-len('.png')] + '_composite.png'


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


def evaluate(runner: Runner, dataset: paddle.io.Dataset,
             metric_names: Optional[Sequence[str]] = None, num_workers: int = 0,
             save_dir: Optional[str] = None, save_results: bool = False,
             show_progress: bool = True, num_examples: int = 0,
             background: Optional[np.ndarray] = None, fg_method: str = DEFAULT_FG_METHOD) -> EvalResult:
    """Predict every image of a val-mode dataset and score it.

    Args:
        runner: see ``paddlematting.pipeline.runner``.
        dataset: samples with ``img``, ``trans_info``, ``ori_alpha`` uint8 [H0,W0], optional
            ``trimap``/``ori_trimap`` and ``img_name``.
        metric_names: registered metric names (``metrics.metric_names()``); None for all.
        save_dir: when given, ``metrics_per_image.csv`` is written there.
        save_results: also write each alpha as an 8-bit PNG under save_dir, at its
            ``img_name`` with the extension .png (see ``result_path``; known trimap regions
            set to 0/255, as the metrics see it).
        num_examples: how many (input, prediction, ground truth) triples to keep for display.
        background: uint8 [Hb, Wb, 3] RGB; with ``save_results`` each image is also cut out
            with its saved alpha (colours from ``cutout_foreground`` with ``fg_method``) and
            written over it as ``composite_path``. Needs a dataset with ``load_sample(idx)``
            (MattingDataset), which gives the untransformed image.
    """
    if len(dataset) == 0:
        raise ValueError('The validation dataset is empty; check val_file in the config.')
    if save_results and not save_dir:
        raise ValueError('save_results=True needs a save_dir to write the alphas into.')
    if save_results and background is not None and not hasattr(dataset, 'load_sample'):
        raise ValueError(f'Saving composites needs the untransformed images, which '
                         f'{type(dataset).__name__} does not provide (no load_sample method).')
    metrics = build_metrics(list(metric_names or registered_metric_names()))
    # one image per batch: val images keep their own sizes
    loader = iterate_batches(dataset, paddle.io.BatchSampler(dataset, batch_size=1),
                             num_workers)
    result = EvalResult(metrics={})
    taken: Dict[str, str] = {}
    start = time.time()
    for batch in tqdm(loader, total=len(dataset), desc='eval', unit='img',
                      disable=not show_progress, dynamic_ncols=True):
        alphas = predict_batch(runner, batch)
        for i, pred in enumerate(alphas):
            gt = as_numpy(batch['ori_alpha'][i])
            trimap = batch.get('ori_trimap')
            trimap = None if trimap is None else as_numpy(trimap[i]).astype(np.uint8)
            name = batch['img_name'][i] if 'img_name' in batch else f'{len(result.per_image)}'
            row = {'img_name': name}
            if trimap is not None and not np.any(trimap == TRIMAP_UNKNOWN):
                # errors are summed over the unknown region: an empty one would score 0
                result.unscored.append(name)
                row.update((metric_name, float('nan')) for metric_name in metrics)
            for metric_name, metric in metrics.items():
                if metric_name not in row:
                    row[metric_name] = metric.update(pred, gt, trimap)
            result.per_image.append(row)
            if save_results:
                saved = force_known_regions(pred, trimap)
                result_png = unique_result_path(save_dir, name, taken)
                write_png(result_png, saved)
                if background is not None:
                    # batches hold one image each, taken in dataset order
                    image = dataset.load_sample(len(result.per_image) - 1)['img']
                    write_png(composite_path(result_png),
                              composite(cutout_foreground(image, saved, fg_method), saved, background))
            if len(result.examples) < num_examples:
                result.examples.append({'img_name': name, 'pred': pred, 'gt': gt,
                                        'input': network_input_picture(as_numpy(batch['img'][i]))})
    result.seconds = time.time() - start
    if result.unscored:
        report_unscored(result.unscored, len(result.per_image))
    result.metrics = {name: metric.evaluate() for name, metric in metrics.items()}
    if save_dir:
        write_per_image_csv(os.path.join(save_dir, PER_IMAGE_CSV), result.per_image,
                            list(metrics), result.metrics)
    return result

"""Predict alphas for user images: prepare, run, restore, write PNGs.

For every input (found and named by ``predict.input_collection``) with output name ``REL/NAME``
it writes ``save_dir/REL/NAME_alpha.png`` (8-bit matte at the input's size) and
``save_dir/REL/NAME_rgba.png`` (the estimated foreground colours F with the matte as its
fourth channel); given a background, also ``save_dir/REL/NAME_composite.png`` (RGB,
``alpha * F + (1 - alpha) * background``, the background fitted to the input by
``pipeline.outputs.composite``). F comes from ``pipeline.outputs.cutout_foreground``
(``fg_method``; 'none' keeps the photo's own colours). An unreadable input is reported and skipped; the caller
decides the exit code from ``PredictResult.failed``. A video input (``video.is_video``) writes
``NAME_alpha.mp4`` and ``NAME_composite.mp4`` instead (``predict.videos``).
"""
import logging
import os
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from ..transforms import Compose
from ..pipeline.prediction import Runner, finish_alpha, prepare_sample
from ..utils.image_io import read_image, read_trimap, write_png
from ..video import is_video
from ..pipeline.outputs import DEFAULT_FG_METHOD, composite, cutout_foreground
from ..pipeline.runner import alpha_to_uint8, clip_runner, shape_checked
from .input_collection import InputImage
from .videos import predict_video

logger = logging.getLogger(__name__)

# how the alpha PNG is named: ours (NAME_alpha.png) or PaddleSeg contrib/Matting's (NAME.png)
SAVE_NAMES = ('default', 'paddleseg')
ALPHA_SUFFIX = {'default': '_alpha', 'paddleseg': ''}


@dataclass
class _Pending:
    """One image prepared for the model, waiting for its batch to run."""
    item: InputImage
    image: np.ndarray
    trimap: Optional[np.ndarray]
    sample: dict


@dataclass
class PredictResult:
    """Paths written (alpha PNGs) and (input path, reason) for every failed input."""
    written: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)


def cutout_rgba(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB uint8 [H,W,3] + alpha uint8 [H,W] -> RGBA uint8 [H,W,4]."""
    return np.concatenate([image, alpha[:, :, None]], axis=2)


def predict_images(runner: Runner, transforms: Sequence[Callable], inputs: List[InputImage],
                   save_dir: str, needs_trimap: bool = False, show_progress: bool = True,
                   background: Optional[np.ndarray] = None,
                   fg_method: str = DEFAULT_FG_METHOD, temporal_ofd: bool = False,
                   save_names: str = 'default', batch_size: int = 1) -> PredictResult:
    """Predict and save every input; failures are logged and collected, not raised.

    Args:
        transforms: the built val transforms (LoadImages first), composed here.
        inputs: from ``predict.input_collection.collect_inputs``; each writes under its
            ``output_name``.
        needs_trimap: the model cannot run without a trimap (DIM); inputs lacking one fail.
        background: uint8 [Hb, Wb, 3] RGB of any size (e.g. from
            ``predict.visualization.read_background``); when given, each input also gets
            ``NAME_composite.png``, uint8 [H, W, 3] RGB. None: no composite is written.
        fg_method: how the cut-outs' colours are estimated (``pipeline.outputs.FG_METHODS``).
        temporal_ofd: videos only: MODNet's one-frame-delay flicker filter.
        batch_size: how many images the model runs at once; consecutive inputs that the
            transforms bring to the same size share a run (a folder of same-size photos runs in
            batches of ``batch_size``), others run alone. Outputs do not depend on it.
        save_names: 'default' writes the matte as ``NAME_alpha.png``; 'paddleseg' as
            ``NAME.png``, as PaddleSeg contrib/Matting's predict.py did (the cut-outs keep
            their ``_rgba``/``_composite`` names).
    """
    if save_names not in SAVE_NAMES:
        raise ValueError(f'save_names must be one of {SAVE_NAMES}, got {save_names!r}.')
    alpha_suffix = ALPHA_SUFFIX[save_names]
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
    prepare = Compose(list(transforms))
    checked_runner = shape_checked(runner)
    result = PredictResult()
    pending: List[_Pending] = []  # prepared images of one input size, waiting for one run

    def write_outputs(item: InputImage, image: np.ndarray, alpha: np.ndarray) -> str:
        alpha_path = os.path.join(save_dir, item.output_name + alpha_suffix + '.png')
        if os.path.abspath(alpha_path) == os.path.abspath(item.path):
            raise ValueError(f'the matte would overwrite the input {item.path} (--save_names '
                             f'paddleseg into the input folder); choose another --save_dir')
        write_png(alpha_path, alpha)
        foreground = cutout_foreground(image, alpha, fg_method)
        write_png(os.path.join(save_dir, item.output_name + '_rgba.png'),
                  cutout_rgba(foreground, alpha))
        if background is not None:
            write_png(os.path.join(save_dir, item.output_name + '_composite.png'),
                      composite(foreground, alpha, background))
        return alpha_path

    def fail(path: str, error: Exception) -> None:
        logger.error('Skipping %s: %s', path, error)
        result.failed.append((path, str(error)))

    def flush() -> None:
        """Run the pending images as one batch, then restore and write each."""
        if not pending:
            return
        batch = list(pending)
        pending.clear()
        try:
            imgs = np.concatenate([p.sample['img'] for p in batch])
            trimaps = None if batch[0].sample['trimap'] is None else \
                np.concatenate([p.sample['trimap'] for p in batch])
            alphas = checked_runner(imgs, trimaps)
        except Exception as error:  # the whole batch failed together
            for p in batch:
                fail(p.item.path, error)
            return
        for p, raw in zip(batch, alphas):
            try:
                # the trimap's known regions are forced after restoring, at the image's own
                # size (as PaddleSeg does), so resizing never blurs them
                alpha = alpha_to_uint8(finish_alpha(raw, p.sample['trans_info'], p.trimap))
                result.written.append(write_outputs(p.item, p.image, alpha))
            except Exception as error:  # one bad file must not stop the others
                fail(p.item.path, error)

    for item in tqdm(inputs, desc='predict', unit='img', disable=not show_progress,
                     dynamic_ncols=True):
        try:
            if needs_trimap and item.trimap_path is None:
                raise FileNotFoundError(f'no trimap found for {item.path} (this model needs one; '
                                        f'pass --trimap_path with a trimap named '
                                        f'{item.rel_name}.png)')
            if is_video(item.path):
                flush()
                if needs_trimap:
                    raise ValueError(f'{item.path}: videos need a model without a trimap input.')
                # a recurrent model (RVM) carries its state frame to frame, fresh for each clip
                result.written.append(predict_video(shape_checked(clip_runner(runner)), prepare,
                                                    item.path, item.output_name,
                                                    save_dir, background, fg_method, temporal_ofd,
                                                    show_progress)[0])
                continue
            image = read_image(item.path)
            trimap = read_trimap(item.trimap_path) if item.trimap_path else None
            sample = prepare_sample(image, trimap, prepare)
        except Exception as error:  # one bad file must not stop the others
            fail(item.path, error)
            continue
        # a batch holds images that the transforms brought to one size
        if pending and pending[0].sample['img'].shape != sample['img'].shape:
            flush()
        pending.append(_Pending(item, image, trimap, sample))
        if len(pending) >= batch_size:
            flush()
    flush()
    return result

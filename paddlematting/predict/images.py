"""Predict mattes for user images: one image in memory, or every input of a folder or list.

``predict_image(runner, image)`` is the one-call entry point: an RGB array in, the matte,
cut-out and composite out as arrays (``pipeline.outputs.MatteOutputs``); nothing is written.
``save_outputs`` (``pipeline.outputs``) writes them when files are wanted.

``predict_images`` runs over inputs found and named by ``predict.input_collection``: for the
input with output name ``REL/NAME`` it writes ``save_dir/REL/NAME_alpha.png`` (8-bit matte at
the input's size), ``save_dir/REL/NAME_rgba.png`` (the estimated foreground colours F with
the matte as its fourth channel) and, given a background, ``save_dir/REL/NAME_composite.png``
(``alpha * F + (1 - alpha) * background``); names and contents follow ``OutputOptions``. An
unreadable input is reported and skipped; the caller decides the exit code from
``PredictResult.failed``. A video input (``video.is_video``) writes ``NAME_alpha.mp4`` and
``NAME_composite.mp4`` instead (``predict.videos``). Every file written is listed in
save_dir's record of outputs (``predict.output_record``), so that a later search of that
folder for inputs leaves it out.
"""
import logging
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import paddle
from tqdm import tqdm

from ..pipeline.output_writer import OutputWriter
from ..pipeline.outputs import MatteOutputs, OutputOptions, make_outputs, output_paths
from ..pipeline.prediction import Runner, finish_alpha_uint8, prepare_sample
from ..pipeline.runner import clip_runner, dygraph_runner, shape_checked
from ..transforms import Compose
from ..utils.image_io import read_image, read_trimap
from ..video import is_video
from .input_collection import InputImage
from .options import PredictOptions
from .output_record import OutputRecord
from .videos import predict_video

logger = logging.getLogger(__name__)

__all__ = ['PredictOptions', 'PredictResult', 'predict_image', 'predict_images']


@dataclass
class PredictResult:
    """Paths written (alpha mattes) and (input path, reason) for every failed input."""
    written: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)

    def fail(self, path: str, error: Exception) -> None:
        """Log and record that ``path`` could not be predicted."""
        logger.error('Skipping %s: %s', path, error)
        self.failed.append((path, str(error)))


def _as_runner(runner_or_model: Union[Runner, paddle.nn.Layer]) -> Runner:
    if isinstance(runner_or_model, paddle.nn.Layer):
        return dygraph_runner(runner_or_model)
    if not callable(runner_or_model):
        raise TypeError(f'expected a runner (img, trimap) -> alpha or a paddle Layer, got '
                        f'{type(runner_or_model).__name__}')
    return runner_or_model


def _compose(runner: Runner, transforms: Optional[Sequence[Callable]]) -> Compose:
    """The given transforms, else the runner's own (``inference.Predictor.transforms``)."""
    if transforms is None:
        transforms = getattr(runner, 'transforms', None)
    if transforms is None:
        raise ValueError('predict_image needs the transforms the model was trained with: pass '
                         'transforms=builders.build_val_transforms(cfg) (an exported '
                         'inference.Predictor carries its own)')
    return transforms if isinstance(transforms, Compose) else Compose(list(transforms))


def predict_image(runner: Union[Runner, paddle.nn.Layer], image: np.ndarray,
                  trimap: Optional[np.ndarray] = None,
                  transforms: Optional[Sequence[Callable]] = None,
                  options: Optional[OutputOptions] = None) -> MatteOutputs:
    """The matte of one image, with its cut-out and composite, as arrays.

    Args:
        runner: an ``inference.Predictor``, a runner (``pipeline.runner``) or a paddle model
            (run in eval mode without gradients).
        image: uint8 [H, W, 3] RGB.
        trimap: uint8 [H, W] in {0, 128, 255}, for models that take one (``needs_trimap``);
            its known regions are forced in the result.
        transforms: the val transforms (``builders.build_val_transforms(cfg)``, built or a
            Compose); None takes the runner's own (an exported Predictor has them).
        options: what to make besides the matte (default: the cut-out, no composite).
    Returns:
        ``MatteOutputs``: ``alpha`` uint8 [H, W], and as asked ``foreground`` / ``rgba`` /
        ``composite``. Nothing is written (``pipeline.outputs.save_outputs`` does that).
    """
    runner = _as_runner(runner)
    prepare = _compose(runner, transforms)
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f'image must be a uint8 [H, W, 3] RGB array, got '
                         f'{getattr(image, "dtype", type(image).__name__)}')
    if trimap is None and getattr(runner, 'needs_trimap', False):
        raise ValueError('this model needs a trimap (uint8 [H, W], 0/128/255) for every image')
    sample = prepare_sample(image, trimap, prepare)
    raw = shape_checked(runner)(sample['img'], sample['trimap'])
    alpha = finish_alpha_uint8(raw, sample['trans_info'], trimap)
    return make_outputs(image, alpha, options or OutputOptions())


@dataclass
class _Pending:
    """One image prepared for the model, waiting for its batch to run."""
    item: InputImage
    image: np.ndarray
    trimap: Optional[np.ndarray]
    sample: dict


def _prepare(item: InputImage, prepare: Compose, max_pixels: Optional[int]) -> _Pending:
    image = read_image(item.path, max_pixels)
    trimap = read_trimap(item.trimap_path, max_pixels) if item.trimap_path else None
    return _Pending(item, image, trimap, prepare_sample(image, trimap, prepare))


class _Batches:
    """Prepared images of one input size, run together, then restored one by one and handed
    to the writer (which writes them while the next batch runs)."""

    def __init__(self, runner: Runner, save_dir: str, options: PredictOptions,
                 result: PredictResult, writer: OutputWriter, record: OutputRecord):
        self.runner = shape_checked(runner)
        self.save_dir = save_dir
        self.options = options
        self.result = result
        self.writer = writer
        self.record = record  # videos are listed here directly, images by the writer
        self.pending: List[_Pending] = []

    def add(self, prepared: _Pending) -> None:
        # a batch holds images that the transforms brought to one size
        if self.pending and self.pending[0].sample['img'].shape != prepared.sample['img'].shape:
            self.flush()
        self.pending.append(prepared)
        if len(self.pending) >= self.options.batch_size:
            self.flush()

    def flush(self) -> None:
        """Run the pending images as one batch, then restore and write each."""
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            imgs = np.concatenate([p.sample['img'] for p in batch])
            trimaps = None if batch[0].sample['trimap'] is None else \
                np.concatenate([p.sample['trimap'] for p in batch])
            alphas = self.runner(imgs, trimaps)
        except Exception as error:  # the whole batch failed together
            for p in batch:
                self.result.fail(p.item.path, error)
            return
        for p, raw in zip(batch, alphas):
            try:
                self._finish(p, raw)
            except Exception as error:  # one bad file must not stop the others
                self.result.fail(p.item.path, error)

    def _finish(self, p: _Pending, raw: np.ndarray) -> None:
        # the trimap's known regions are forced after restoring, at the image's own size (as
        # PaddleSeg does), so resizing never blurs them
        alpha = finish_alpha_uint8(raw, p.sample['trans_info'], p.trimap)
        outputs = make_outputs(p.image, alpha, self.options.outputs)
        paths = output_paths(self.save_dir, p.item.output_name, self.options.outputs)
        self.writer.submit(outputs, paths, input_path=p.item.path)


def _check_trimap(item: InputImage, needs_trimap: bool) -> None:
    if needs_trimap and item.trimap_path is None:
        raise FileNotFoundError(f'no trimap found for {item.path} (this model needs one; pass '
                                f'--trimap_path with a trimap named {item.rel_name}.png)')
    if needs_trimap and is_video(item.path):
        raise ValueError(f'{item.path}: videos need a model without a trimap input.')


def predict_images(runner: Runner, transforms: Sequence[Callable], inputs: List[InputImage],
                   save_dir: str, options: Optional[PredictOptions] = None) -> PredictResult:
    """Predict and save every input; failures are logged and collected, not raised.

    Args:
        runner: see ``pipeline.runner`` (or an ``inference.Predictor``).
        transforms: the built val transforms (LoadImages first), composed here, or a
            Compose (an ``inference.Predictor``'s ``transforms``).
        inputs: from ``predict.input_collection.collect_inputs``; each writes under its
            ``output_name``.
        save_dir: the output folder.
        options: see ``PredictOptions`` (what is written and how it is named, batching,
            trimaps, videos); None for the defaults.
    """
    options = options or PredictOptions()
    prepare = transforms if isinstance(transforms, Compose) else Compose(list(transforms))
    result = PredictResult()
    record = OutputRecord(save_dir)

    def written(_, paths) -> None:
        result.written.append(paths.alpha)
        record.add(paths.all())  # a later search of this folder leaves them out

    with OutputWriter(written, result.fail, options.writer) as writer:
        batches = _Batches(runner, save_dir, options, result, writer, record)
        _predict_each(runner, prepare, inputs, batches)
    return result


def _predict_each(runner: Runner, prepare: Compose, inputs: List[InputImage],
                  batches: _Batches) -> None:
    """``predict_images``'s loop: images through batches and the writer, videos directly."""
    options, result, writer = batches.options, batches.result, batches.writer
    for item in tqdm(inputs, desc='predict', unit='img', disable=not options.show_progress,
                     dynamic_ncols=True):
        try:
            _check_trimap(item, options.needs_trimap)
            if is_video(item.path):
                batches.flush()
                writer.wait()  # results stay in input order
                # a recurrent model (RVM) carries its state frame to frame, fresh for each clip
                written = predict_video(shape_checked(clip_runner(runner)), prepare, item.path,
                                        item.output_name, batches.save_dir, options)
                batches.record.add(written)
                result.written.append(written[0])
                continue
            prepared = _prepare(item, prepare, options.max_pixels)
        except Exception as error:  # one bad file must not stop the others
            result.fail(item.path, error)
            continue
        batches.add(prepared)
    batches.flush()

"""The quick-start demo: build a tiny training set, train, evaluate, predict, remove a
background in one call, draw a picture.

The picture (output/demo/showcase.png) shows, one labelled row each, on the first shipped photo
and a new background: the MODNet trained here for a few dozen iterations (rough by design),
closed-form matting (a classical method that needs no training and uses the photo's trimap),
``paddlematting remove`` chaining them (the trained MODNet's mask -> an automatic trimap ->
closed-form matting on its unknown band -> foreground colours), and, when they can be downloaded, PaddleSeg's published MODNet weights. Every cut-out takes its
colours from foreground estimation (blur fusion), so the old background does not show through
soft edges.

Run by ``scripts/demo.sh`` (the README's first command), or directly:
``python tools/run_demo.py [--out output/demo] [--iters 40]``. Everything it writes goes
under --out. On 2 CPU cores it takes a few minutes; the alphas of a few dozen iterations
are poor, the point is to see every step of the flow work.

The training set is made from the real mattes shipped in data/alphamatting_lowres: each
photo is blended with its alpha onto each of the 3 bundled backgrounds and downscaled, and
written in the PPM-100 layout (``train/fg``, ``train/alpha``, ``train.txt``). The photos
already contain a background, so the blends are only approximately correct at soft
edges; fine for a demo, never for reporting quality. Validation uses the real photos.
"""
import argparse
import os
import sys
import time
from typing import List, Optional


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)

from paddlematting.cli import predict as predict_cli  # noqa: E402
from paddlematting.cli import remove as remove_cli  # noqa: E402
from paddlematting.cli import train as train_cli  # noqa: E402
from paddlematting.cli import val as val_cli  # noqa: E402
from paddlematting.pipeline.outputs import composite, cutout_foreground  # noqa: E402
from paddlematting.predict.visualization import (labelled, matting_showcase, side_by_side,  # noqa: E402
                                                 stacked)
from paddlematting.datasets.tiny_sets import build_training_set, list_photos  # noqa: E402
from paddlematting.utils.download import DownloadError, cached_download  # noqa: E402
from paddlematting.utils.image_io import read_alpha, read_image, read_trimap, write_png  # noqa: E402

REAL_DATA = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres')
DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'quick_start', 'modnet_mobilenetv2_demo.yml')
CLASSICAL_CONFIG = os.path.join(REPO_ROOT, 'configs', 'classical', 'closeform_matting.yml')
PUBLISHED_CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')
PUBLISHED_WEIGHTS = 'https://paddleseg.bj.bcebos.com/matting/models/modnet-mobilenetv2.pdparams'
SHOWCASE_BACKGROUND = 'rocket.jpg'


def _run(step: str, main, argv: List[str]) -> None:
    print(f'\n=== {step}: {" ".join(argv)}', flush=True)
    code = main(argv)
    if code:
        raise SystemExit(f'The demo stopped: {step} exited with code {code}.')


def run_demo(out: str, iters: int, long_side: int) -> str:
    """Run the whole flow under ``out``; return the path of the side-by-side picture."""
    started = time.time()
    data_root = os.path.join(out, 'train_data')
    train_dir, eval_dir, predict_dir = (os.path.join(out, name)
                                        for name in ('train', 'eval', 'predict'))
    print(f'Building the training set in {data_root} ...', flush=True)
    build_training_set(data_root, REAL_DATA, long_side=long_side)
    common = ['--config', DEMO_CONFIG, '--device', 'cpu']
    val_opts = [f'val_dataset.dataset_root={REAL_DATA}']
    save_interval = max(1, iters // 2)
    _run('train', train_cli.main, common + [
        '--iters', str(iters), '--save_interval', str(save_interval), '--log_iters', '5',
        '--do_eval', '--seed', '0', '--save_dir', train_dir,
        # the learning rate drops for the last quarter of however many iterations are asked for
        '--opts', f'train_dataset.dataset_root={data_root}',
        f'lr_scheduler.boundaries=[{max(1, iters * 3 // 4)}]', *val_opts])
    weights = os.path.join(train_dir, 'best_model', 'model.pdparams')
    _run('evaluate', val_cli.main, common + [
        '--model_path', weights, '--save_dir', eval_dir, '--save_results', '--opts', *val_opts])
    _run('predict', predict_cli.main, common + [
        '--model_path', weights, '--image_path', os.path.join(REAL_DATA, 'val', 'fg'),
        '--save_dir', predict_dir, '--opts', *val_opts])

    first = list_photos(REAL_DATA)[0]
    stem = os.path.splitext(os.path.basename(first))[0]
    photo_path = os.path.join(REAL_DATA, first)
    trimap_path = os.path.join(REAL_DATA, 'val', 'trimap', stem + '.png')
    classical_dir, published_dir = os.path.join(out, 'classical'), os.path.join(out, 'published')
    _run('classical matting', predict_cli.main, [
        '--config', CLASSICAL_CONFIG, '--device', 'cpu', '--image_path', photo_path,
        '--trimap_path', trimap_path, '--save_dir', classical_dir])
    removed_alpha = _remove_background(photo_path, weights, os.path.join(out, 'remove'))
    published = _published_weights()
    if published:
        _run('published MODNet', predict_cli.main, [
            '--config', PUBLISHED_CONFIG, '--device', 'cpu', '--model_path', published,
            '--image_path', photo_path, '--save_dir', published_dir])

    picture_path = _draw_picture(out, iters, photo_path, trimap_path, {
        'trained': os.path.join(predict_dir, f'{stem}_alpha.png'),
        'classical': os.path.join(classical_dir, f'{stem}_alpha.png'),
        'removed': removed_alpha,
        'published': os.path.join(published_dir, f'{stem}_alpha.png') if published else None})
    print(f'\nDemo finished in {time.time() - started:.0f} s.')
    print(f'Note: {iters} iterations from random weights give rough mattes, and the validation '
          'photos are the ones the training blends were made from, so the metrics flatter the '
          'model: the demo shows the flow, not the quality (see the model zoo in README.md).')
    print(f'Checkpoints: {train_dir}  metrics: {eval_dir}  mattes: {predict_dir}')
    print(f'Picture (per method: input | alpha | cut-out on a new background, colours by foreground '
          f'estimation): {picture_path}')
    return picture_path


def _draw_picture(out: str, iters: int, photo_path: str, trimap_path: str, alphas: dict) -> str:
    """The labelled rows of showcase.png (one per method: input or trimap | alpha | cut-out on
    a new background); ``alphas`` holds each method's alpha path (or array), None when absent."""
    photo = read_image(photo_path)
    background = read_image(os.path.join(REAL_DATA, 'bg', SHOWCASE_BACKGROUND))
    trained_alpha = read_alpha(alphas['trained'])
    classical_alpha = read_alpha(alphas['classical'])
    rows = [
        labelled(matting_showcase(photo, trained_alpha, background),
                 f'MODNet-MobileNetV2 trained here for {iters} iterations (rough by design): '
                 f'input | alpha | cut-out'),
        labelled(side_by_side([read_trimap(trimap_path), classical_alpha,
                               composite(cutout_foreground(photo, classical_alpha), classical_alpha, background)]),
                 'Closed-form matting (classical, no training; uses the trimap): trimap | alpha | cut-out'),
        labelled(matting_showcase(photo, alphas['removed'], background),
                 'paddlematting remove: the trained MODNet -> automatic trimap -> closed-form '
                 '(a mask this rough is sure of little, so little is refined): input | alpha | cut-out'),
    ]
    if alphas['published']:
        rows.append(labelled(matting_showcase(photo, read_alpha(alphas['published']), background),
                             'MODNet-MobileNetV2, PaddleSeg\'s published weights: input | alpha | cut-out'))
    picture_path = os.path.join(out, 'showcase.png')
    write_png(picture_path, stacked(rows))
    return picture_path


def _remove_background(photo_path: str, weights: str, out_dir: str):
    """``paddlematting remove`` on one photo: the MODNet trained above as the segmenter,
    closed-form matting as the refiner of the automatic trimap's band; the cut-out's alpha
    (uint8 [H,W]) read back from the RGBA it wrote."""
    cutout = os.path.join(out_dir, os.path.splitext(os.path.basename(photo_path))[0] + '.png')
    _run('remove a background', remove_cli.main, [
        photo_path, cutout, '--model', DEMO_CONFIG, '--weights', weights, '--refiner',
        'closed-form', '--device', 'cpu', '--overwrite'])
    return read_alpha(cutout)  # a 4-channel image's map is its alpha channel


def _published_weights() -> Optional[str]:
    """The published MODNet-MobileNetV2 weights (downloaded once into the cache), or None
    after one line saying they were skipped when they cannot be downloaded."""
    try:
        return cached_download(PUBLISHED_WEIGHTS, retries=1, timeout=15, progress=False)
    except (DownloadError, OSError) as error:
        print(f'Offline: skipped the published MODNet weights ({PUBLISHED_WEIGHTS}: '
              f'{type(error).__name__}).', flush=True)
        return None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=os.path.join('output', 'demo'),
                        help='Folder for everything the demo writes.')
    parser.add_argument('--iters', type=int, default=40, help='Training iterations.')
    parser.add_argument('--long_side', type=int, default=224,
                        help='Longer side of the training images, in pixels.')
    args = parser.parse_args(argv)
    run_demo(args.out, args.iters, args.long_side)
    return 0


if __name__ == '__main__':
    sys.exit(main())

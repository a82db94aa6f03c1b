"""The quick-start demo: build a tiny training set, train, evaluate, predict, draw a picture.

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
from paddlematting.cli import train as train_cli  # noqa: E402
from paddlematting.cli import val as val_cli  # noqa: E402
from paddlematting.core.visualization import matting_showcase  # noqa: E402
from paddlematting.datasets.tiny_sets import build_training_set, list_photos  # noqa: E402
from paddlematting.utils.image_io import read_alpha, read_image, write_png  # noqa: E402

REAL_DATA = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres')
DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'quick_start', 'modnet_mobilenetv2_demo.yml')
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
    picture = matting_showcase(read_image(os.path.join(REAL_DATA, first)),
                               read_alpha(os.path.join(predict_dir, f'{stem}_alpha.png')),
                               read_image(os.path.join(REAL_DATA, 'bg', SHOWCASE_BACKGROUND)))
    picture_path = os.path.join(out, 'showcase.png')
    write_png(picture_path, picture)
    print(f'\nDemo finished in {time.time() - started:.0f} s.')
    print(f'Note: {iters} iterations from random weights give rough mattes, and the validation '
          'photos are the ones the training blends were made from, so the metrics flatter the '
          'model: the demo shows the flow, not the quality (see the model zoo in README.md).')
    print(f'Checkpoints: {train_dir}  metrics: {eval_dir}  mattes: {predict_dir}')
    print(f'Picture (input | predicted alpha | cut-out on a new background): {picture_path}')
    return picture_path


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

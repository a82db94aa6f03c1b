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

import cv2
import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)

from paddlematting.cli import predict as predict_cli  # noqa: E402
from paddlematting.cli import train as train_cli  # noqa: E402
from paddlematting.cli import val as val_cli  # noqa: E402
from paddlematting.core.visualization import composite, matting_showcase  # noqa: E402
from paddlematting.utils.image_io import read_alpha, read_image, read_trimap, write_png  # noqa: E402

REAL_DATA = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres')
DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'quick_start', 'modnet_mobilenetv2_demo.yml')
SHOWCASE_BACKGROUND = 'rocket.jpg'


def _list_photos(src_root: str) -> List[str]:
    with open(os.path.join(src_root, 'val.txt'), encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def _scale_to_long_side(array: np.ndarray, long_side: int, nearest: bool = False) -> np.ndarray:
    h, w = array.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def build_training_set(out_root: str, long_side: int = 224, src_root: str = REAL_DATA,
                       max_photos: Optional[int] = None) -> str:
    """Blend every shipped photo onto every shipped background, in the PPM-100 layout.

    Args:
        out_root: dataset root to create (``train/fg``, ``train/alpha``, ``train.txt``).
        long_side: the longer image side after downscaling, in pixels.
        max_photos: use only the first photos of val.txt (None: all 6).

    Returns:
        The path of ``train.txt``.
    """
    photos = _list_photos(src_root)[:max_photos]
    backgrounds = sorted(os.listdir(os.path.join(src_root, 'bg')))
    lines = []
    for rel in photos:
        stem = os.path.splitext(os.path.basename(rel))[0]
        image = read_image(os.path.join(src_root, rel))
        alpha = read_alpha(os.path.join(src_root, rel.replace('/fg/', '/alpha/')))
        for bg_name in backgrounds:
            background = read_image(os.path.join(src_root, 'bg', bg_name))
            blended = composite(image, alpha, background)
            name = f'{stem}_{os.path.splitext(bg_name)[0]}.png'
            write_png(os.path.join(out_root, 'train', 'fg', name),
                      _scale_to_long_side(blended, long_side))
            write_png(os.path.join(out_root, 'train', 'alpha', name),
                      _scale_to_long_side(alpha, long_side))
            lines.append(f'train/fg/{name}')
    list_path = os.path.join(out_root, 'train.txt')
    with open(list_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    return list_path


def build_validation_set(out_root: str, long_side: int = 96, src_root: str = REAL_DATA,
                         max_photos: Optional[int] = None) -> str:
    """Downscaled copies of the real photos, alphas and trimaps (``val/...``, ``val.txt``).

    Downscaling softens the alpha's edges, so every pixel whose downscaled alpha is not
    exactly 0 or 255 becomes unknown (128) in the trimap: known regions stay truthful.
    Returns the path of ``val.txt``.
    """
    photos = _list_photos(src_root)[:max_photos]
    for rel in photos:
        def source(folder):
            return os.path.join(src_root, rel.replace('/fg/', f'/{folder}/'))

        image = _scale_to_long_side(read_image(source('fg')), long_side)
        alpha = _scale_to_long_side(read_alpha(source('alpha')), long_side)
        trimap = _scale_to_long_side(read_trimap(source('trimap')), long_side, nearest=True)
        trimap[(alpha > 0) & (alpha < 255)] = 128
        trimap[(trimap == 0) & (alpha == 255)] = 128
        trimap[(trimap == 255) & (alpha == 0)] = 128
        for folder, array in (('fg', image), ('alpha', alpha), ('trimap', trimap)):
            write_png(os.path.join(out_root, rel.replace('/fg/', f'/{folder}/')), array)
    list_path = os.path.join(out_root, 'val.txt')
    with open(list_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(photos) + '\n')
    return list_path


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
    build_training_set(data_root, long_side=long_side)
    common = ['--config', DEMO_CONFIG, '--device', 'cpu']
    val_opts = [f'val_dataset.dataset_root={REAL_DATA}']
    save_interval = max(1, iters // 2)
    _run('train', train_cli.main, common + [
        '--iters', str(iters), '--save_interval', str(save_interval), '--log_iters', '5',
        '--do_eval', '--seed', '0', '--save_dir', train_dir,
        '--opts', f'train_dataset.dataset_root={data_root}', *val_opts])
    weights = os.path.join(train_dir, 'best_model', 'model.pdparams')
    _run('evaluate', val_cli.main, common + [
        '--model_path', weights, '--save_dir', eval_dir, '--save_results', '--opts', *val_opts])
    _run('predict', predict_cli.main, common + [
        '--model_path', weights, '--image_path', os.path.join(REAL_DATA, 'val', 'fg'),
        '--save_dir', predict_dir, '--opts', *val_opts])

    first = _list_photos(REAL_DATA)[0]
    stem = os.path.splitext(os.path.basename(first))[0]
    picture = matting_showcase(read_image(os.path.join(REAL_DATA, first)),
                               read_alpha(os.path.join(predict_dir, f'{stem}_alpha.png')),
                               read_image(os.path.join(REAL_DATA, 'bg', SHOWCASE_BACKGROUND)))
    picture_path = os.path.join(out, 'showcase.png')
    write_png(picture_path, picture)
    print(f'\nDemo finished in {time.time() - started:.0f} s.')
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

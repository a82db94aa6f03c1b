"""Draw docs/images/remove_before_after.png: the one-call pipeline on a shipped photo, offline.

The photo is GT11 (a fuzzy plant head); its mask is the hard mask a perfect segmenter would give
(ground truth > 0.5), since no segmenter's weights ship with the repository. Panels (the whole
photo at a third of its size, then a 2x zoom on the fuzz): the photo | the hard mask cut out on a new background |
``pm.Matting(refiner='closed-form').remove(photo, mask=mask, background=...)``: automatic trimap,
closed-form matting on its band, estimated foreground colours.

Usage: python tools/make_remove_figure.py [--out docs/images/remove_before_after.png]
"""
import argparse
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import paddlematting as pm  # noqa: E402
from paddlematting.predict.visualization import labelled, side_by_side, stacked  # noqa: E402
from paddlematting.utils.image_io import read_alpha, read_image, write_png  # noqa: E402

DATA = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val')
CROP = (slice(160, 250), slice(660, 750))  # strands on the upper right of the plant head
BACKGROUND = (24, 24, 48)  # dark: a halo of the old, bright backdrop stands out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=os.path.join(REPO_ROOT, 'docs', 'images', 'remove_before_after.png'))
    args = parser.parse_args()
    photo = read_image(os.path.join(DATA, 'fg', 'GT11.png'))
    mask = read_alpha(os.path.join(DATA, 'alpha', 'GT11.png')) > 127
    matting = pm.Matting(refiner='closed-form')
    # the hard mask alone: given as a trimap without unknown pixels, nothing is refined
    hard = matting.remove(photo, trimap=np.where(mask, 255, 0).astype(np.uint8), bgcolor=BACKGROUND)
    refined = matting.remove(photo, mask=mask, bgcolor=BACKGROUND)

    def small(picture):  # a third: the figure stays small in the repository
        return cv2.resize(picture, (picture.shape[1] // 3, picture.shape[0] // 3), interpolation=cv2.INTER_AREA)

    def zoomed(picture):
        return np.repeat(np.repeat(picture[CROP], 2, axis=0), 2, axis=1)

    labels = ('photo', 'hard mask', 'refined (closed-form)')
    pictures = (photo, hard, refined)
    whole = side_by_side([labelled(small(p), t, height=20) for p, t in zip(pictures, labels)], gap=4)
    detail = side_by_side([zoomed(p) for p in pictures], gap=4)
    detail = np.pad(detail, ((0, 0), (0, whole.shape[1] - detail.shape[1]), (0, 0)), constant_values=255)
    write_png(args.out, stacked([whole, detail], gap=4))
    print(args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Draw docs/images/foreground_before_after.png: a cut-out in fine hair-like fuzz (shipped photo
GT11 with its ground-truth alpha) on a dark background, zoomed 2x, with the photo's own colours and with
the foreground colours estimated by blur fusion and by the multi-level method.

Usage: python tools/make_foreground_figure.py [--out docs/images/foreground_before_after.png]
"""
import argparse
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import numpy as np  # noqa: E402

from paddlematting.pipeline.outputs import composite, cutout_foreground  # noqa: E402
from paddlematting.predict.visualization import labelled, side_by_side  # noqa: E402
from paddlematting.utils.image_io import read_alpha, read_image, write_png  # noqa: E402

DATA = os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val')
# strands on the upper right of the plant head, where the bright green-blue backdrop shows through
CROP = (slice(150, 270), slice(650, 770))
ZOOM = 2
BACKGROUND = (24, 24, 48)  # dark: a halo of the old, bright backdrop stands out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=os.path.join(REPO_ROOT, 'docs', 'images', 'foreground_before_after.png'))
    args = parser.parse_args()
    photo = read_image(os.path.join(DATA, 'fg', 'GT11.png'))
    alpha = read_alpha(os.path.join(DATA, 'alpha', 'GT11.png'))
    background = np.array(BACKGROUND, np.uint8)[None, None]

    def zoomed(picture):
        return np.repeat(np.repeat(picture[CROP], ZOOM, axis=0), ZOOM, axis=1)

    panels = [labelled(zoomed(photo), 'photo', height=24)]
    for method, label in (('none', 'fg_method none'), ('blur_fusion', 'blur_fusion'), ('multilevel', 'multilevel')):
        # estimate on the whole photo (the methods look beyond the crop), then crop
        cut = composite(cutout_foreground(photo, alpha, method), alpha, background)
        panels.append(labelled(zoomed(cut), label, height=24))
    write_png(args.out, side_by_side(panels, gap=4))
    print(args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())

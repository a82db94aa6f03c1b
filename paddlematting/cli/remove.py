"""``paddlematting remove IN OUT``: cut the background out of photos, like ``rembg i``.

    paddlematting remove photo.jpg cutout.png                  the default chain
    paddlematting remove photos/ cutouts/ --model modnet-mobilenetv2
    paddlematting remove list.txt cutouts/ --refiner closed-form --mask masks/
    cat photo.jpg | paddlematting remove - - > cutout.png

IN is an image, a folder (searched recursively), a .txt/.lst list, or ``-`` (stdin); OUT is a
PNG file, a folder (``OUT/REL/NAME.png`` for ``IN/REL/NAME.ext``) or ``-`` (stdout). Outputs that
already exist are skipped unless ``--overwrite``, so an interrupted folder run resumes where it
stopped; each is written under a temporary name and renamed, never over an input. Exit status:
0 all written or skipped, 1 some images failed (each is named), 2 unusable arguments or nothing
could be done.
"""
import argparse
import logging
import os
import sys
from dataclasses import dataclass
from typing import List, Optional, Tuple

from tqdm import tqdm

from .common import add_max_pixels_arg, setup_logging
from .errors import EXIT_BAD_INPUTS, reports_user_errors

logger = logging.getLogger('paddlematting')

STDIO = '-'
EXIT_SOME_FAILED = 1


@dataclass
class RemoveJob:
    """One photo: where it comes from and goes to (``STDIO`` for stdin / stdout)."""
    source: str
    output: str
    mask: Optional[str] = None
    trimap: Optional[str] = None
    missing: Optional[str] = None  # why this photo cannot run (no mask/trimap of its name)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from ..pipeline.outputs import FG_METHODS
    from ..predict.auto_trimap import BandOptions
    parser = argparse.ArgumentParser(prog='paddlematting remove', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('input', metavar='IN', help='an image, a folder, a .txt list, or - (stdin)')
    parser.add_argument('output', metavar='OUT', help='a .png file, a folder, or - (stdout)')
    parser.add_argument('--model', '-m', default=None,
                        help='segmenter (zoo name or config); default: the zoo\'s default chain')
    parser.add_argument('--refiner', '-r', default=None,
                        help='trimap-based refiner of the mask\'s edge (vitmatte-*, gca, dim-vgg16, '
                             'closed-form, ...); default: none when --model is named')
    parser.add_argument('--weights', default=None, help="a file/URL replacing --model's zoo weights")
    parser.add_argument('--refiner-weights', default=None, help="the same for --refiner")
    parser.add_argument('--mask', default=None,
                        help='masks instead of a segmenter (a file, or a folder/list matched by name)')
    parser.add_argument('--trimap', default=None, help='trimaps instead of a mask (same forms)')
    parser.add_argument('--only-mask', action='store_true', help='write the matte alone (gray PNG)')
    parser.add_argument('--bgcolor', default=None, metavar='#RRGGBB|r,g,b',
                        help='composite on this colour (RGB PNG)')
    parser.add_argument('--background', default=None, metavar='IMAGE',
                        help='composite on this image (scaled up if smaller, centre-cropped)')
    parser.add_argument('--fg-method', choices=FG_METHODS, default=None,
                        help='cut-out colours: blur_fusion (default), multilevel, or none')
    defaults = BandOptions()
    parser.add_argument('--band-width', type=float, default=defaults.width,
                        help='the automatic trimap\'s margin either side of an edge, as a fraction '
                             'of the long side (default %(default)s)')
    parser.add_argument('--erode-size', type=int, default=None,
                        help='that margin in pixels instead (rembg\'s erode size)')
    parser.add_argument('--fg-threshold', type=float, default=defaults.fg_threshold,
                        help='mask values at or above are sure foreground (default %(default)s)')
    parser.add_argument('--bg-threshold', type=float, default=defaults.bg_threshold,
                        help='mask values at or below are sure background (default %(default)s)')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
    parser.add_argument('--backend', choices=('dygraph', 'inference'), default='dygraph',
                        help='inference: export each model once (cached) and run the fastest engine')
    parser.add_argument('--overwrite', action='store_true', help='replace outputs that exist')
    add_max_pixels_arg(parser, '--max-pixels')
    return parser.parse_args(argv)


def _output_file(source: str, output: str) -> str:
    """The output file for one input file: OUT itself, or OUT/NAME.png when OUT is a folder."""
    if output == STDIO:
        return STDIO
    if os.path.isdir(output) or output.endswith(('/', os.sep)):
        stem = 'stdin' if source == STDIO else os.path.splitext(os.path.basename(source))[0]
        return os.path.join(output, stem + '.png')
    if not output.lower().endswith('.png'):
        raise ValueError(f'OUT {output!r}: cut-outs are PNG files (they carry alpha); name a .png '
                         f'file, a folder, or -')
    return output


def plan_jobs(args: argparse.Namespace) -> List[RemoveJob]:
    """The photos to cut out and their outputs; ValueError/OSError (one line) when unusable."""
    from ..predict.input_collection import collect_inputs
    single = args.input == STDIO or os.path.isfile(args.input) and not args.input.lower().endswith(('.txt', '.lst'))
    if single:
        return [RemoveJob(args.input, _output_file(args.input, args.output), args.mask, args.trimap)]
    if args.output == STDIO or os.path.isfile(args.output):
        raise ValueError(f'OUT {args.output!r}: a folder or list of photos needs an output folder')
    items = collect_inputs(args.input, None, ('IN', '--mask'))
    masks = collect_inputs(args.input, args.mask, ('IN', '--mask')) if args.mask else items
    trimaps = collect_inputs(args.input, args.trimap, ('IN', '--trimap')) if args.trimap else items
    jobs = []
    for item, m, t in zip(items, masks, trimaps):
        job = RemoveJob(item.path, os.path.join(args.output, item.output_name + '.png'),
                        m.trimap_path if args.mask else None, t.trimap_path if args.trimap else None)
        for flag, given, found in (('--mask', args.mask, job.mask), ('--trimap', args.trimap, job.trimap)):
            if given and found is None:  # never fall back to the segmenter silently
                job.missing = f'{flag} {given} has no map named {item.rel_name}'
        jobs.append(job)
    return jobs


def check_not_over_inputs(jobs: List[RemoveJob]) -> None:
    """Refuse, before any work, an output that would replace an input (photo, mask, trimap)."""
    inputs = {os.path.realpath(p) for j in jobs for p in (j.source, j.mask, j.trimap)
              if p and p != STDIO}
    for job in jobs:
        if job.output != STDIO and os.path.realpath(job.output) in inputs:
            raise ValueError(f'{job.output} is an input: its cut-out would replace it; choose '
                             f'another OUT')


def build_matting(args: argparse.Namespace):
    """The ``Matting`` the flags describe, with the models the inputs need loaded: a bad
    name, a failed download or a trimap model without --mask/--trimap stop the run here."""
    from ..api import Matting, MattingSettings
    from ..predict.auto_trimap import BandOptions
    band = BandOptions(width=args.band_width, fg_threshold=args.fg_threshold,
                       bg_threshold=args.bg_threshold, erode_size=args.erode_size)
    matting = Matting(args.model, args.refiner, args.weights, args.refiner_weights,
                      MattingSettings(device=args.device, backend=args.backend, band=band,
                                      max_pixels=args.max_pixels))
    matting.prepare(mask=args.mask is not None, trimap=args.trimap is not None)
    return matting


def cutout_options(args: argparse.Namespace) -> dict:
    """``Matting.remove``'s keywords from the flags; the background is read (and checked) once."""
    from ..predict.visualization import read_background
    background = None
    if args.background is not None:
        background = read_background(args.background, what='--background')
    elif args.bgcolor is not None:
        background = read_background(args.bgcolor, what='--bgcolor')
    if args.only_mask and background is not None:
        raise ValueError('--only-mask writes the matte alone; it cannot be composited on '
                         '--bgcolor/--background')
    return {'only_mask': args.only_mask, 'background': background, 'fg_method': args.fg_method}


def run_job(matting, job: RemoveJob, options: dict) -> None:
    """Cut out one photo and write it (atomically, or to stdout)."""
    from ..api.image_types import encode_png
    from ..utils.image_io import read_alpha, read_image, read_trimap, write_png
    if job.missing:
        raise FileNotFoundError(job.missing)
    cap = matting.settings.max_pixels
    image = sys.stdin.buffer.read() if job.source == STDIO else read_image(job.source, cap)
    mask = read_alpha(job.mask, cap) if job.mask else None
    trimap = read_trimap(job.trimap, cap) if job.trimap else None
    result = matting.remove(image, mask=mask, trimap=trimap, **options)
    png = result if isinstance(result, bytes) else None  # stdin in: PNG bytes out
    if job.output == STDIO:
        sys.stdout.buffer.write(png if png is not None else encode_png(result))
        sys.stdout.buffer.flush()
    elif png is not None:
        from ..utils.output_files import write_bytes_atomically
        write_bytes_atomically(job.output, png)
    else:
        write_png(job.output, result)


def run_jobs(matting, jobs: List[RemoveJob], options: dict, overwrite: bool,
             record=None) -> Tuple[int, int, list]:
    """(written, skipped, [(source, reason)]) over ``jobs``, with a progress bar (images/s);
    each file written is added to ``record`` (an ``OutputRecord`` of OUT, for a folder)."""
    written, skipped, failed = 0, 0, []
    bar = tqdm(jobs, desc='remove', unit='img', dynamic_ncols=True, disable=len(jobs) < 2)
    for job in bar:
        if not overwrite and job.output != STDIO and os.path.exists(job.output):
            skipped += 1  # a resumed run: this one was finished before
            bar.set_postfix(skipped=skipped, refresh=False)
            continue
        try:
            run_job(matting, job, options)
            written += 1
            if record is not None:  # a later search of OUT for photos leaves it out
                record.add([job.output])
        except (OSError, ValueError) as error:  # one bad photo must not stop the others
            from .errors import one_line
            logger.error('Skipping %s: %s', job.source, one_line(error))
            failed.append((job.source, one_line(error)))
    return written, skipped, failed


@reports_user_errors
def main(argv: Optional[List[str]] = None) -> int:
    """Cut out every input; returns 0, 1 (some failed) or 2 (nothing could be done)."""
    args = parse_args(argv)
    setup_logging()
    jobs = plan_jobs(args)
    check_not_over_inputs(jobs)
    folder_out = len(jobs) > 1 or (jobs and jobs[0].output != STDIO and os.path.isdir(args.output))
    record = None
    if folder_out:
        from ..utils.output_files import check_output_dir, hold_output_dir
        check_output_dir(args.output, 'OUT')
        hold_output_dir(args.output, 'remove')  # one run per folder
        from ..predict.output_record import OutputRecord
        record = OutputRecord(args.output)  # OUT may be IN: a rerun must not take cut-outs for photos
    options = cutout_options(args)
    pending = [j for j in jobs if args.overwrite or j.output == STDIO or not os.path.exists(j.output)]
    # a finished run resumed: nothing to load
    matting = build_matting(args) if pending else None
    written, skipped, failed = run_jobs(matting, jobs, options, args.overwrite, record)
    logger.info('Wrote %d cut-out(s), skipped %d that existed%s.', written, skipped,
                f', {len(failed)} failed' if failed else '')
    if failed:
        return EXIT_BAD_INPUTS if written == 0 and skipped == 0 else EXIT_SOME_FAILED
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""MattingDataset: PPM-100 (fg + alpha) and Composition-1k (fg + bg [+ trimap]) list files."""
import os
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Union

import numpy as np
import paddle

from ..transforms import Compose
from ..transforms.sample_fields import FIELD_KEYS
from ..config import manager
from ..utils.image_io import read_alpha, read_image, read_trimap
from .composition import composite_on_background, fit_background
from .trimap import eval_trimap, random_trimap

MODES = ('train', 'val', 'trainval')
# tried in order when the alpha/trimap does not share the foreground's exact file name
_FALLBACK_EXTENSIONS = ('.png', '.jpg', '.jpeg')


def list_location(list_file: str, line_no: int) -> str:
    """How messages name one line of a list file: ``'<list file> line <line_no>'``."""
    return f'{list_file} line {line_no}'


class ListEntry(NamedTuple):
    """One line of a list file, with its paths resolved against the dataset root."""
    list_file: str
    line_no: int
    img_name: str  # the foreground path as written in the list (relative to the root)
    fg_path: str
    alpha_path: str
    bg_path: Optional[str]
    trimap_path: Optional[str]  # a listed trimap, or one found in a 'trimap' folder beside 'fg'

    @property
    def where(self) -> str:
        """This entry's line, as messages name it (see ``list_location``)."""
        return list_location(self.list_file, self.line_no)


# separators list files written for other tools use; named in the error for a mismatched one
OTHER_SEPARATORS = ('\t', ',', ';', '|', ' ')


def split_list_line(line: str, separator: str) -> List[str]:
    """The non-empty, stripped fields of a list-file line.

    PaddleSeg's default separator ``' '`` means any run of whitespace here (tabs too), so
    lists written with tabs or aligned columns read the same; other separators split exactly.
    """
    parts = line.split() if separator == ' ' else line.split(separator)
    return [part.strip() for part in parts if part.strip()]


def sibling_rel_path(fg_rel: str, folder: str) -> Optional[str]:
    """``fg_rel`` with its last folder named 'fg' replaced by ``folder``, or None without one.

    E.g. ``sibling_rel_path('val/fg/x.png', 'alpha') == 'val/alpha/x.png'``; backslashes
    become '/', and an absolute ``fg_rel`` stays absolute. Nothing is checked on disk.
    """
    parts = fg_rel.replace('\\', '/').split('/')
    fg_dirs = [i for i, part in enumerate(parts[:-1]) if part == 'fg']
    if not fg_dirs:
        return None
    parts[fg_dirs[-1]] = folder
    return '/'.join(parts)


def find_sibling(root: str, fg_rel: str, folder: str) -> Optional[str]:
    """Path of the existing file matching ``fg_rel`` in ``folder`` instead of 'fg', or None.

    ``fg_rel`` is relative to ``root`` (or absolute); see ``sibling_rel_path``. The same file
    name is preferred, then the same stem with a common image extension.
    """
    sibling_rel = sibling_rel_path(fg_rel, folder)
    if sibling_rel is None:
        return None
    # joining the re-assembled string keeps absolute list paths absolute
    exact = os.path.join(root, sibling_rel)
    stem = os.path.splitext(exact)[0]
    for candidate in [exact] + [stem + ext for ext in _FALLBACK_EXTENSIONS]:
        if os.path.isfile(candidate):
            return candidate
    return None


def sample_name(fg_name: str, bg_path: Optional[str] = None) -> str:
    """The name a val sample is reported and saved under.

    ``fg_name`` itself in the PPM-100 layout (``val/fg/x.png``); composited on a background,
    the background's file stem is added before the extension (``val/fg/x__coffee.png`` for
    ``bg/coffee.jpg``), since Composition-1k puts each foreground on many backgrounds.
    """
    if bg_path is None:
        return fg_name
    stem, ext = os.path.splitext(fg_name)
    bg_stem = os.path.splitext(os.path.basename(bg_path))[0]
    return f'{stem}__{bg_stem}{ext}'


@manager.DATASETS.add_component
class MattingDataset(paddle.io.Dataset):
    """Matting samples from list files under ``dataset_root``.

    Each list line is ``fg`` (PPM-100 layout: the foreground is the photo) or
    ``fg bg [trimap]`` (Composition-1k layout: the photo is ``alpha*fg + (1-alpha)*bg``, the
    background enlarged to cover the foreground if needed and cropped: at random in training,
    centred in val). The alpha is the file of the same name in an ``alpha`` folder that
    replaces the path's ``fg`` folder. See data/README.md for the layouts.

    Trimaps (when ``get_trimap``): training generates one at random from the alpha; val uses
    the listed trimap, else a ``trimap`` folder beside ``fg`` holding the same name, else a
    deterministic one generated from the alpha.

    Samples, after ``transforms`` (a list of built transforms, or a Compose):
    ``img`` float32 [3, H, W]; ``alpha`` float32 [1, H, W] in [0, 1]; ``trimap`` float32
    [1, H, W] in {0, 128, 255} (when get_trimap); ``gt_fields``; ``trans_info``. Training
    adds ``fg``, ``bg`` [3, H, W] (both the photo itself in PPM-100 layout). Val adds
    ``ori_alpha`` uint8 [H0, W0], ``ori_trimap`` uint8 [H0, W0] (when get_trimap) and
    ``img_name`` (see ``sample_name``: the listed foreground path, plus ``__<bg stem>`` before
    the extension when composited). Val samples are deterministic; training ones use numpy's global generator.

    Args:
        dataset_root: folder the list files and the paths inside them are relative to.
        transforms: the transforms, e.g. LoadImages, a crop, Normalize.
        mode: 'train', 'val' or 'trainval' (both lists, sampled like training).
        train_file, val_file: a list file name or a list of them.
        get_trimap: provide trimaps (models like DIM take them as input).
        separator: what separates the fields of a line (use e.g. '|' if names hold spaces).
    """

    def __init__(self, dataset_root: str, transforms: Union[Sequence[Callable], Compose],
                 mode: str = 'train', train_file: Union[str, List[str], None] = None,
                 val_file: Union[str, List[str], None] = None, get_trimap: bool = True,
                 separator: str = ' '):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"MattingDataset: mode must be one of {MODES}, got {mode!r}.")
        if not isinstance(separator, str) or not separator:
            # YAML reads `separator: |` as an empty block: quote it, separator: '|'
            raise ValueError(f'MattingDataset: separator must be a non-empty string (quote '
                             f"characters YAML treats specially: separator: '|'), got "
                             f'{separator!r}.')
        if not os.path.isdir(dataset_root):
            raise FileNotFoundError(f'MattingDataset: dataset_root {dataset_root!r} is not a '
                                    f'folder.')
        self.dataset_root = dataset_root
        if not isinstance(transforms, Compose):
            transforms = Compose(list(transforms))
        self.transforms = transforms
        self.mode = mode
        self.training = mode in ('train', 'trainval')
        self.get_trimap = bool(get_trimap)
        self.separator = separator

        list_files = []
        requested = (('train', 'train_file', train_file), ('val', 'val_file', val_file))
        for wanted, name, files in requested:
            if mode in (wanted, 'trainval'):
                if not files:
                    raise ValueError(f"MattingDataset: mode '{mode}' needs {name} (a list file "
                                     f"relative to {dataset_root}).")
                list_files += [files] if isinstance(files, str) else list(files)
        self.entries: List[ListEntry] = []
        for list_file in list_files:
            self.entries += self._read_list(list_file)
        if not self.entries:
            raise ValueError(f'MattingDataset: the list files {list_files} under {dataset_root} '
                             f'contain no samples.')

    # ---- construction: parse lists, check that files exist ----
    def _read_list(self, list_file: str) -> List[ListEntry]:
        path = os.path.join(self.dataset_root, list_file)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'MattingDataset: list file {path} does not exist.')
        with open(path, 'r', encoding='utf-8') as f:
            lines = f.read().splitlines()
        entries = []
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            fields = split_list_line(line, self.separator)
            if len(fields) > 3:
                raise ValueError(f'{list_location(path, line_no)}: expected "fg [bg [trimap]]" '
                                 f'separated by {self.separator!r}, got {len(fields)} fields: '
                                 f'{line!r}.')
            entries.append(self._resolve(path, line_no, fields))
        return entries

    def _refuse_other_separator(self, where: str, field: str) -> None:
        """A missing path that splits into existing files on another separator is a list
        written for another ``separator``: say so instead of 'file not found'."""
        for other in OTHER_SEPARATORS:
            parts = split_list_line(field, other)
            if other != self.separator and len(parts) > 1 and all(
                    os.path.isfile(os.path.join(self.dataset_root, part)) for part in parts[:2]):
                raise ValueError(f'{where}: {field!r} is not a file, but splits on {other!r} into '
                                 f'existing files; set the dataset\'s separator: {other!r} (it is '
                                 f'{self.separator!r}).')

    def _existing(self, where: str, what: str, rel: str) -> str:
        full = os.path.join(self.dataset_root, rel)
        if not os.path.isfile(full):
            raise FileNotFoundError(f'{where}: {what} {full} does not exist.')
        return full

    def _resolve(self, list_path: str, line_no: int, fields: List[str]) -> ListEntry:
        where = list_location(list_path, line_no)
        fg_rel = fields[0]
        if not os.path.isfile(os.path.join(self.dataset_root, fg_rel)):
            self._refuse_other_separator(where, fg_rel)
        fg_path = self._existing(where, 'foreground image', fg_rel)
        alpha_path = find_sibling(self.dataset_root, fg_rel, 'alpha')
        if alpha_path is None:
            raise FileNotFoundError(
                f"{where}: no alpha for {fg_path}; expected the same name in an 'alpha' folder "
                f"in place of its 'fg' folder.")
        bg_path = self._existing(where, 'background image', fields[1]) if len(fields) > 1 else None
        trimap_path = None
        if self.get_trimap and not self.training:
            if len(fields) == 3:
                trimap_path = self._existing(where, 'trimap', fields[2])
            else:
                trimap_path = find_sibling(self.dataset_root, fg_rel, 'trimap')
        return ListEntry(list_path, line_no, fg_rel, fg_path, alpha_path, bg_path, trimap_path)

    # ---- loading ----
    @staticmethod
    def _load(entry: ListEntry, reader: Callable[[str], np.ndarray], path: str) -> np.ndarray:
        try:
            return reader(path)
        except (OSError, ValueError) as e:
            raise type(e)(f'{entry.where}: {e}') from e

    @staticmethod
    def _check_size(entry: ListEntry, what: str, path: str, array: np.ndarray, fg: np.ndarray):
        if array.shape[:2] != fg.shape[:2]:
            raise ValueError(f'{entry.where}: {what} {path} is {array.shape[1]}x{array.shape[0]} '
                             f'(WxH) but the foreground {entry.fg_path} is '
                             f'{fg.shape[1]}x{fg.shape[0]}; they must match.')

    def load_sample(self, idx: int) -> Dict:
        """The raw sample of line ``idx`` before transforms: uint8 HWC / HW arrays."""
        entry = self.entries[idx]
        fg = self._load(entry, read_image, entry.fg_path)
        alpha = self._load(entry, read_alpha, entry.alpha_path)
        self._check_size(entry, 'alpha', entry.alpha_path, alpha, fg)
        if entry.bg_path is not None:
            bg = self._load(entry, read_image, entry.bg_path)
            bg = fit_background(bg, fg.shape[0], fg.shape[1], random_crop=self.training)
            img = composite_on_background(fg, alpha, bg)
        else:
            # PPM-100 photos are their own foreground and background (composition losses
            # then compare the photo with itself where the matte is soft)
            img, bg = fg, fg.copy()

        sample = {'img': img, 'alpha': alpha}
        if self.training:
            sample['fg'], sample['bg'] = fg.copy(), bg
        if self.get_trimap:
            if self.training:
                trimap = random_trimap(alpha)
            elif entry.trimap_path is not None:
                trimap = self._load(entry, read_trimap, entry.trimap_path)
                self._check_size(entry, 'trimap', entry.trimap_path, trimap, fg)
            else:
                trimap = eval_trimap(alpha)
            sample['trimap'] = trimap
        if not self.training:
            sample['ori_alpha'] = alpha.copy()
            if self.get_trimap:
                sample['ori_trimap'] = sample['trimap'].copy()
            sample['img_name'] = sample_name(entry.img_name, entry.bg_path)
        sample['gt_fields'] = [k for k in FIELD_KEYS if k in sample]
        sample['trans_info'] = []
        return sample

    def __getitem__(self, idx: int) -> Dict:
        return self.transforms(self.load_sample(idx))

    def __len__(self) -> int:
        return len(self.entries)

"""MattingDataset on the shipped real set and on synthetic sets with odd formats and bad data."""
import os

import cv2
import numpy as np
import paddle
import pytest

from paddlematting.datasets import MattingDataset, collate_samples
from paddlematting.datasets.matting_dataset import find_sibling, list_location, sibling_rel_path
from paddlematting.datasets.tiny_sets import build_validation_set
from paddlematting.config import manager
from paddlematting.utils.image_io import read_alpha, read_image

TRIMAP_VALUES = {0, 128, 255}


def build(name, **kwargs):
    return manager.TRANSFORMS[name](**kwargs)


def val_transforms():
    return [build('LoadImages'), build('ResizeByShort', short_size=128),
            build('ResizeToIntMult', mult_int=32), build('Normalize')]


def modnet_train_transforms():
    """configs/modnet/modnet_mobilenetv2.yml's training transforms with a smaller crop."""
    return [build('LoadImages'), build('RandomCrop', crop_size=[96, 96]), build('RandomDistort'),
            build('RandomBlur'), build('RandomHorizontalFlip'), build('Normalize')]


def dim_train_transforms():
    """configs/dim/dim_vgg16.yml's training transforms with smaller crop sizes."""
    return [build('LoadImages'),
            build('RandomCropByAlpha', crop_size=[[96, 96], [128, 128], [160, 160]]),
            build('Resize', target_size=[64, 64]), build('RandomDistort'), build('RandomBlur'),
            build('RandomHorizontalFlip'), build('Normalize')]


# ---------------- the shipped real set ----------------

def test_real_val_ppm_layout_uses_trimap_folder_and_keeps_ground_truth(real_data_root):
    ds = MattingDataset(real_data_root, val_transforms(), mode='val', val_file='val.txt')
    assert len(ds) == 6
    sample = ds[3]
    assert sample['img_name'] == 'val/fg/GT19.png'
    alpha_file = cv2.imread(os.path.join(real_data_root, 'val/alpha/GT19.png'), 0)
    trimap_file = cv2.imread(os.path.join(real_data_root, 'val/trimap/GT19.png'), 0)
    assert sample['ori_alpha'].dtype == np.uint8 and np.array_equal(sample['ori_alpha'], alpha_file)
    assert np.array_equal(sample['ori_trimap'], trimap_file)
    h0, w0 = alpha_file.shape
    assert sample['trans_info'][0] == ('resize', (h0, w0))
    _, h, w = sample['img'].shape
    assert h % 32 == 0 and w % 32 == 0 and min(h, w) <= 128
    assert sample['alpha'].shape == (1, h, w)
    assert 0 <= sample['alpha'].min() and sample['alpha'].max() <= 1
    assert set(np.unique(sample['trimap']).tolist()) <= TRIMAP_VALUES
    assert sample['img'].min() >= -1 and sample['img'].max() <= 1
    assert 'fg' not in sample and 'bg' not in sample


def test_real_val_without_trimap(real_data_root):
    ds = MattingDataset(real_data_root, val_transforms(), mode='val', val_file='val.txt',
                        get_trimap=False)
    sample = ds[0]
    assert 'trimap' not in sample and 'ori_trimap' not in sample
    assert sample['gt_fields'] == ['alpha']


def test_real_composition_layout_val_is_deterministic_and_composites(real_data_root):
    ds = MattingDataset(real_data_root, [build('LoadImages')], mode='val',
                        val_file='val_with_bg.txt')
    first, second = ds[0], ds[0]
    assert np.array_equal(first['img'], second['img'])
    fg = read_image(os.path.join(real_data_root, 'val/fg/GT05.png')).transpose(2, 0, 1)
    alpha = first['ori_alpha']
    assert first['img'].shape == fg.shape  # background (600x400) was enlarged to the fg's 800x552
    opaque = alpha == 255
    assert np.array_equal(first['img'][:, opaque], fg[:, opaque].astype(np.float32))
    transparent = alpha == 0
    assert not np.array_equal(first['img'][:, transparent], fg[:, transparent].astype(np.float32))


def test_real_composition_layout_train_matches_formula(real_data_root):
    np.random.seed(0)
    ds = MattingDataset(real_data_root, [build('LoadImages')], mode='train',
                        train_file='val_with_bg.txt')
    sample = ds[1]
    img, fg, bg = sample['img'], sample['fg'], sample['bg']
    a = sample['alpha'][0]
    soft = np.argwhere((a > 0) & (a < 1))
    for y, x in list(soft[:: max(1, len(soft) // 7)]) + [(0, 0), (300, 400)]:
        expected = a[y, x] * fg[:, y, x] + (1 - a[y, x]) * bg[:, y, x]
        np.testing.assert_allclose(img[:, y, x], expected, atol=0.51)


@pytest.mark.parametrize('make_transforms', [modnet_train_transforms, dim_train_transforms])
def test_real_train_with_seed_config_transforms(real_data_root, make_transforms):
    np.random.seed(3)
    ds = MattingDataset(real_data_root, make_transforms(), mode='train', train_file='val.txt')
    sample = ds[2]
    size = sample['img'].shape[1:]
    assert sample['img'].shape[0] == 3 and size in ((96, 96), (64, 64))
    for key, channels in (('alpha', 1), ('trimap', 1), ('fg', 3), ('bg', 3)):
        assert sample[key].shape == (channels,) + size and sample[key].dtype == np.float32, key
    assert set(np.unique(sample['trimap']).tolist()) <= TRIMAP_VALUES
    assert 0 <= sample['alpha'].min() and sample['alpha'].max() <= 1
    assert -1 <= sample['img'].min() and sample['img'].max() <= 1
    # PPM-100 layout: fg and bg are the photo itself (before photometric changes to img)
    assert np.array_equal(sample['fg'], sample['bg'])
    # reproducible under the same seed
    np.random.seed(3)
    again = ds[2]
    assert np.array_equal(again['img'], sample['img'])
    assert np.array_equal(again['trimap'], sample['trimap'])


def test_dataloader_with_collate_samples(real_data_root):
    ds = MattingDataset(real_data_root, [build('LoadImages'), build('Resize', target_size=[64, 48]),
                                         build('Normalize')], mode='val', val_file='val.txt')
    loader = paddle.io.DataLoader(ds, batch_size=2, shuffle=False, num_workers=0,
                                  collate_fn=collate_samples)
    batch = next(iter(loader))
    assert list(batch['img'].shape) == [2, 3, 48, 64]
    assert list(batch['alpha'].shape) == [2, 1, 48, 64]
    assert batch['img_name'] == ['val/fg/GT05.png', 'val/fg/GT11.png']
    assert len(batch['ori_alpha']) == 2
    assert np.array_equal(np.asarray(batch['ori_alpha'][1]),
                          read_alpha(os.path.join(real_data_root, 'val/alpha/GT11.png')))
    op, (h, w) = batch['trans_info'][0][0]
    assert op == 'resize' and (h, w) == (552, 800)


def test_trainval_concatenates_lists(real_data_root):
    ds = MattingDataset(real_data_root, [build('LoadImages')], mode='trainval',
                        train_file='val.txt', val_file=['val_with_bg.txt'])
    assert len(ds) == 12 and ds.training


# ---------------- synthetic sets ----------------

def make_set(root, lines, size=(20, 30), fg_writer=None, alpha_writer=None, sep=' '):
    """Write fg/alpha pairs for every fg path in ``lines`` and train.txt; return root."""
    h, w = size
    rows, cols = np.mgrid[0:h, 0:w]
    for line in lines:
        fg_rel = line.split(sep)[0]
        fg_path = os.path.join(root, fg_rel)
        alpha_path = os.path.join(os.path.dirname(os.path.dirname(fg_path)), 'alpha',
                                  os.path.splitext(os.path.basename(fg_path))[0] + '.png')
        os.makedirs(os.path.dirname(fg_path), exist_ok=True)
        os.makedirs(os.path.dirname(alpha_path), exist_ok=True)
        fg = np.dstack([rows * 5, cols * 5, np.full_like(rows, 77)]).astype(np.uint8)
        alpha = np.clip(cols * 12 - 60, 0, 255).astype(np.uint8)
        (fg_writer or cv2.imwrite)(fg_path, fg)
        (alpha_writer or cv2.imwrite)(alpha_path, alpha)
    with open(os.path.join(root, 'train.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return str(root)


@pytest.mark.parametrize('fg_writer, check', [
    (lambda p, fg: cv2.imwrite(p, fg[:, :, 0]), lambda img: np.array_equal(img[0], img[2])),
    (lambda p, fg: cv2.imwrite(p, np.dstack([fg, np.full(fg.shape[:2], 9, np.uint8)])),
     lambda img: img[2, 0, 0] == 0 and img[0, 0, 0] == 77),  # BGRA file -> RGB, alpha dropped
])
def test_gray_and_rgba_foregrounds_are_converted(tmp_path, fg_writer, check):
    root = make_set(tmp_path, ['a/fg/x.png'], fg_writer=fg_writer)
    sample = MattingDataset(root, [build('LoadImages')], mode='val', val_file='train.txt')[0]
    assert sample['img'].shape == (3, 20, 30)
    assert check(sample['img'])


@pytest.mark.parametrize('alpha_writer', [
    lambda p, a: cv2.imwrite(p, np.dstack([a] * 3)),
    lambda p, a: cv2.imwrite(p, a.astype(np.uint16) * 257),
])
def test_three_channel_and_16bit_alphas_are_converted(tmp_path, alpha_writer):
    root = make_set(tmp_path, ['a/fg/x.jpg'], alpha_writer=alpha_writer)
    sample = MattingDataset(root, [build('LoadImages')], mode='val', val_file='train.txt')[0]
    cols = np.arange(30)
    assert np.array_equal(sample['ori_alpha'][5], np.clip(cols * 12 - 60, 0, 255).astype(np.uint8))
    # generated val trimap: unknown band covers the soft ramp
    soft = (sample['ori_alpha'] > 0) & (sample['ori_alpha'] < 255)
    assert np.all(sample['ori_trimap'][soft] == 128)


def test_alpha_found_by_stem_with_other_extension(tmp_path):
    root = make_set(tmp_path, ['fg/x.jpg'])  # make_set writes alpha/x.png
    ds = MattingDataset(root, [build('LoadImages')], mode='train', train_file='train.txt')
    assert ds.entries[0].alpha_path.endswith(os.path.join('alpha', 'x.png'))


def test_absolute_paths_in_list(tmp_path):
    root = make_set(tmp_path / 'set', ['fg/a.png'])
    with open(os.path.join(root, 'abs.txt'), 'w') as f:
        f.write(os.path.join(root, 'fg', 'a.png') + '\n')
    other_root = tmp_path / 'elsewhere'
    other_root.mkdir()
    ds = MattingDataset(str(other_root), [build('LoadImages')], mode='val',
                        val_file=os.path.join(root, 'abs.txt'))
    assert ds.entries[0].alpha_path == os.path.join(root, 'alpha', 'a.png')
    assert ds[0]['ori_alpha'].shape == (20, 30)


def test_separator_and_blank_lines(tmp_path):
    root = make_set(tmp_path, ['fg/a b.png'], sep='|')
    cv2.imwrite(os.path.join(root, 'bg.png'), np.zeros((10, 10, 3), np.uint8))
    with open(os.path.join(root, 'list.txt'), 'w') as f:
        f.write('\nfg/a b.png|bg.png\n\n')
    ds = MattingDataset(root, [build('LoadImages')], mode='val', val_file='list.txt', separator='|')
    assert len(ds) == 1 and ds[0]['img'].shape == (3, 20, 30)


def expect_error(exc, pattern, **kwargs):
    with pytest.raises(exc, match=pattern):
        MattingDataset(transforms=[build('LoadImages')], **kwargs)


def test_construction_errors_name_file_and_line(tmp_path):
    root = make_set(tmp_path, ['fg/a.png', 'fg/b.png'])
    with open(os.path.join(root, 'bad.txt'), 'w') as f:
        f.write('fg/a.png\nfg/missing.png\n')
    expect_error(FileNotFoundError, r'bad.txt line 2: foreground image .*missing.png',
                 dataset_root=root, val_file='bad.txt', mode='val')
    with open(os.path.join(root, 'bg.txt'), 'w') as f:
        f.write('fg/a.png nobg.jpg\n')
    expect_error(FileNotFoundError, r'bg.txt line 1: background image .*nobg.jpg',
                 dataset_root=root, train_file='bg.txt')
    with open(os.path.join(root, 'tri.txt'), 'w') as f:
        f.write('fg/a.png fg/b.png\nfg/b.png fg/a.png notri.png\n')
    expect_error(FileNotFoundError, r'tri.txt line 2: trimap .*notri.png',
                 dataset_root=root, val_file='tri.txt', mode='val')
    with open(os.path.join(root, 'wide.txt'), 'w') as f:
        f.write('fg/a.png\nfg/a.png fg/b.png x y\n')
    expect_error(ValueError, r'wide.txt line 2: expected "fg \[bg \[trimap\]\]".*4 fields',
                 dataset_root=root, train_file='wide.txt')
    os.remove(os.path.join(root, 'alpha', 'b.png'))
    expect_error(FileNotFoundError, r'train.txt line 2: no alpha for .*b.png',
                 dataset_root=root, train_file='train.txt')
    open(os.path.join(root, 'empty.txt'), 'w').close()
    expect_error(ValueError, r'empty.txt.*no samples', dataset_root=root, train_file='empty.txt')
    expect_error(FileNotFoundError, r'list file .*absent.txt does not exist',
                 dataset_root=root, train_file='absent.txt')
    expect_error(ValueError, r"mode 'val' needs val_file", dataset_root=root, mode='val')
    expect_error(ValueError, r'mode must be one of', dataset_root=root, mode='test',
                 train_file='train.txt')


def test_loading_errors_name_file_and_line(tmp_path):
    root = make_set(tmp_path, ['fg/a.png', 'fg/b.png', 'fg/c.png'])
    cv2.imwrite(os.path.join(root, 'alpha', 'b.png'), np.zeros((20, 31), np.uint8))
    with open(os.path.join(root, 'fg', 'c.png'), 'wb') as f:
        f.write(b'garbage')
    ds = MattingDataset(root, [build('LoadImages')], mode='train', train_file='train.txt')
    with pytest.raises(ValueError, match=r'train.txt line 2: alpha .*b.png is 31x20 \(WxH\) '
                                         r'but the foreground .*b.png is 30x20'):
        ds[1]
    with pytest.raises(ValueError, match=r'train.txt line 3: .*c.png: cannot decode'):
        ds[2]


def test_sibling_paths_replace_the_last_fg_folder(tmp_path):
    assert sibling_rel_path('val/fg/x.png', 'alpha') == 'val/alpha/x.png'
    assert sibling_rel_path('fg/set/fg/x.png', 'trimap') == 'fg/set/trimap/x.png'
    assert sibling_rel_path('val\\fg\\x.png', 'alpha') == 'val/alpha/x.png'
    assert sibling_rel_path('/data/fg/x.png', 'alpha') == '/data/alpha/x.png'
    assert sibling_rel_path('val/fgx/fg.png', 'alpha') is None  # only folders named exactly 'fg'
    root = make_set(tmp_path, ['fg/x.jpg'])  # make_set writes alpha/x.png
    assert find_sibling(root, 'fg/x.jpg', 'alpha') == os.path.join(root, 'alpha/x.png')
    assert find_sibling(root, 'fg/x.jpg', 'trimap') is None
    assert find_sibling(root, 'x.jpg', 'alpha') is None
    assert list_location('a/train.txt', 7) == 'a/train.txt line 7'


def test_tiny_validation_set_names_a_missing_sibling(tmp_path):
    root = make_set(tmp_path, ['val/fg/x.png'])  # alpha, but no trimap folder
    os.rename(os.path.join(root, 'train.txt'), os.path.join(root, 'val.txt'))
    with pytest.raises(FileNotFoundError, match=r"val.txt: no trimap file for val/fg/x.png; expected "
                                                r"a file of that name in the 'trimap' folder"):
        build_validation_set(str(tmp_path / 'out'), root)


@pytest.mark.parametrize('line, separator', [
    ('fg/a.png bg.png', ' '),          # PaddleSeg's default
    ('fg/a.png\tbg.png', ' '),         # tab-separated, read by the default too
    ('fg/a.png    bg.png', ' '),       # aligned columns
    ('fg/a.png,bg.png', ','),
    ('fg/a.png|bg.png', '|'),
])
def test_two_column_list_formats_composite_on_the_listed_background(tmp_path, line, separator):
    root = make_set(tmp_path, ['fg/a.png'])
    cv2.imwrite(os.path.join(root, 'bg.png'), np.full((40, 60, 3), 77, np.uint8))
    with open(os.path.join(root, 'list.txt'), 'w') as f:
        f.write(line + '\n')
    ds = MattingDataset(root, [build('LoadImages')], mode='val', val_file='list.txt',
                        separator=separator)
    assert ds.entries[0].bg_path == os.path.join(root, 'bg.png')
    assert ds[0]['img_name'].endswith('__bg.png')


@pytest.mark.parametrize('line, found', [('fg/a.png,bg.png', "','"), ('fg/a.png;bg.png', "';'"),
                                         ('fg/a.png|bg.png', "'\\|'")])
def test_a_list_written_for_another_separator_is_refused_naming_it(tmp_path, line, found):
    root = make_set(tmp_path, ['fg/a.png'])
    cv2.imwrite(os.path.join(root, 'bg.png'), np.zeros((40, 60, 3), np.uint8))
    with open(os.path.join(root, 'list.txt'), 'w') as f:
        f.write(line + '\n')
    expect_error(ValueError, rf"list.txt line 1: .* splits on {found} into existing files; set "
                             rf"the dataset's separator: {found}",
                 dataset_root=root, val_file='list.txt', mode='val')

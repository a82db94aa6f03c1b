"""PaddleSeg's four PP-Matting configs load unchanged: their _base_ chain, schedule, optimizer
keys, and train/val pipelines run on the shipped images (the models themselves are built
from these configs in test_models_ppmatting.py)."""
import os

import numpy as np
import pytest

from conftest import REAL_DATA_ROOT, REPO_ROOT
from paddlematting import Config
from paddlematting.datasets import Composition1K, Distinctions646, MattingDataset
from paddlematting.config import manager
from paddlematting.builders import Built

W18_URL = 'https://bj.bcebos.com/paddleseg/dygraph/hrnet_w18_ssld.tar.gz'
W48_URL = 'https://bj.bcebos.com/paddleseg/dygraph/hrnet_w48_ssld.tar.gz'
# name -> (backbone, its pretrained URL, iters, train crop side, val max_short, dataset root)
CONFIGS = {
    'ppmatting-hrnet_w18-human_512': ('HRNet_W18', W18_URL, 200000, 512, 512, 'data/PPM-100'),
    'ppmatting-hrnet_w18-human_1024': ('HRNet_W18', W18_URL, 200000, 1024, 1024, 'data/PPM-100'),
    'ppmatting-hrnet_w48-composition': ('HRNet_W48', W48_URL, 300000, 512, 1536,
                                        'data/matting/Composition-1k'),
    'ppmatting-hrnet_w48-distinctions': ('HRNet_W48', W48_URL, 300000, 512, 1536,
                                         'data/matting/Distinctions-646'),
}
# the shipped images, listed with a space as separator (the Distinctions config says '|')
ON_SHIPPED_DATA = [f'train_dataset.dataset_root={REAL_DATA_ROOT}',
                   'train_dataset.train_file=val_with_bg.txt', "train_dataset.separator=' '",
                   f'val_dataset.dataset_root={REAL_DATA_ROOT}', 'val_dataset.val_file=val.txt',
                   "val_dataset.separator=' '"]


def _config(name, opts=()):
    return Config(os.path.join(REPO_ROOT, 'configs', 'ppmatting', name + '.yml'), opts=list(opts))


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_sections(name):
    backbone, url, iters, _, _, root = CONFIGS[name]
    cfg = Built(_config(name))
    model = cfg.config.dic['model']
    assert model == {'type': 'PPMatting', 'backbone': {'type': backbone, 'pretrained': url},
                     'pretrained': None}
    assert cfg.config.iters == iters and cfg.config.batch_size == 4
    assert cfg.config.dic['optimizer'] == {'type': 'sgd', 'momentum': 0.9, 'weight_decay': 4.0e-5}
    sched = cfg.lr_scheduler
    assert type(sched).__name__ == 'PolynomialDecay'
    # PaddleSeg fills decay_steps with iters
    assert sched.decay_steps == iters and sched.end_lr == 0 and sched.power == 0.9
    assert sched.base_lr == pytest.approx(0.01)
    assert cfg.config.dic['train_dataset']['dataset_root'] == root
    assert cfg.config.dic['val_dataset']['dataset_root'] == root
    assert cfg.config.dic['val_dataset']['get_trimap'] is False


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_pipelines_run_on_the_shipped_images(name):
    _, _, _, crop, max_short, _ = CONFIGS[name]
    cfg = Built(_config(name, ON_SHIPPED_DATA))
    np.random.seed(0)
    train = cfg.train_dataset
    sample = train[0]
    h, w = sample['img'].shape[1:]
    if 'w48' in name:
        # Padding -> RandomCrop -> Resize(512): always 512 x 512
        assert (h, w) == (512, 512)
    else:
        # LimitShort -> RandomCrop(crop): the crop, or the whole (smaller) image
        assert h <= crop and w <= crop and min(h, w) <= max_short
    for key, channels in (('img', 3), ('fg', 3), ('bg', 3), ('alpha', 1), ('trimap', 1)):
        assert sample[key].shape == (channels, h, w) and sample[key].dtype == np.float32, key
    assert set(np.unique(sample['trimap'])) <= {0.0, 128.0, 255.0}

    val = cfg.val_dataset
    v = val[0]
    assert 'trimap' not in v and v['img'].shape[1] % 32 == 0 and v['img'].shape[2] % 32 == 0
    assert [type(t).__name__ for t in cfg.val_transforms] == \
        ['LoadImages', 'LimitShort', 'ResizeToIntMult', 'Normalize']


def test_human_configs_train_transforms():
    cfg = Built(_config('ppmatting-hrnet_w18-human_1024', ON_SHIPPED_DATA))
    names = [type(t).__name__ for t in cfg.train_dataset.transforms.transforms]
    assert names == ['LoadImages', 'LimitShort', 'RandomCrop', 'RandomDistort', 'RandomBlur',
                     'RandomNoise', 'RandomReJpeg', 'RandomHorizontalFlip', 'Normalize']


def test_benchmark_dataset_names_are_matting_datasets():
    assert manager.DATASETS['Composition1K'] is Composition1K
    assert manager.DATASETS['Distinctions646'] is Distinctions646
    for type_name in ('Composition1K', 'Distinctions646'):
        cfg = Built(_config('ppmatting-hrnet_w48-distinctions',
                            ON_SHIPPED_DATA + [f'val_dataset.type={type_name}']))
        val = cfg.val_dataset
        assert type(val).__name__ == type_name and isinstance(val, MattingDataset)
        assert len(val) == 6 and val[0]['img'].shape[0] == 3

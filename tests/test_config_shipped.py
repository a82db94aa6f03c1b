"""The shipped configs: every one reads, checks and builds, and its model has the state-dict
layout of PaddleSeg's published weights (one table, ``conftest.SHIPPED_CONFIGS``); PaddleSeg's
own files run unchanged; the PP-Matting configs' schedules and pipelines are PaddleSeg's."""
import glob
import os

import numpy as np
import paddle
import pytest

from conftest import (NO_DOWNLOAD, REAL_DATA_ROOT, REPO_ROOT, SHIPPED_CONFIGS, assert_matches_manifest,
                      config_for, load_manifest)
from paddlematting import Config
from paddlematting.builders import Built, build_model
from paddlematting.config import build_component, manager
from paddlematting.datasets import Composition1K, Distinctions646, MattingDataset
from paddlematting.models import model_traits

PADDLESEG_CONFIGS = os.path.join(REPO_ROOT, 'tests', 'data', 'paddleseg_configs')
# the configs PaddleSeg ships whose files are copied in tests/data/paddleseg_configs
PADDLESEG_COPIES = ('configs/dim/dim_vgg16.yml', 'configs/modnet/modnet_hrnet_w18.yml',
                    'configs/modnet/modnet_mobilenetv2.yml', 'configs/modnet/modnet_resnet50_vd.yml')


def test_the_table_lists_every_shipped_config():
    found = {os.path.relpath(p, REPO_ROOT) for pattern in ('*.yml', '*.yaml')
             for p in glob.glob(os.path.join(REPO_ROOT, 'configs', '**', pattern), recursive=True)}
    assert found == set(SHIPPED_CONFIGS)
    manifests = {name for name in SHIPPED_CONFIGS.values() if name}
    assert all(os.path.isfile(os.path.join(REPO_ROOT, 'tests', 'data', 'reference', 'manifests',
                                           name + '.json')) for name in manifests)


def test_every_registered_model_has_a_shipped_config():
    shipped = {Config(os.path.join(REPO_ROOT, p)).model_config['type'] for p in SHIPPED_CONFIGS}
    registered = {name for name, cls in manager.MODELS.components_dict.items()
                  if cls.__module__.startswith('paddlematting.')}
    assert shipped == registered


@pytest.mark.parametrize('rel_path', sorted(SHIPPED_CONFIGS))
def test_a_shipped_config_builds_the_published_layout(rel_path):
    """Reads and builds without false alarms (model, val and train transforms), and the model
    is laid out as the manifest of PaddleSeg's weights says (keys, shapes, dtypes, counts)."""
    path = os.path.join(REPO_ROOT, rel_path)
    built = Built(Config(path, opts=NO_DOWNLOAD))
    model = built.model
    assert len(built.val_transforms) == len(built.config.val_dataset_config['transforms'])
    if model_traits(model).trainable:  # classical solvers have no training section
        section = built.config.train_dataset_config['transforms']
        assert len(build_component(section, 'train_dataset.transforms', path)) == len(section)
    manifest_name = SHIPPED_CONFIGS[rel_path]
    if manifest_name is None:
        assert model.state_dict() == {}  # a solver has no weights to publish
    else:
        assert_matches_manifest(model.state_dict(), load_manifest(manifest_name), model)


@pytest.mark.parametrize('manifest_name', ['dim_vgg16', 'modnet_hrnet_w18', 'modnet_mobilenetv2',
                                           'modnet_resnet50_vd'])
def test_the_published_layout_loads_through_model_pretrained(manifest_name, det_weights, tmp_path):
    """A file laid out like PaddleSeg's published .pdparams loads through ``model.pretrained``
    with nothing missing or unexpected (strict), and every value arrives."""
    manifest = load_manifest(manifest_name)
    weights = det_weights.make_weights(manifest)
    path = str(tmp_path / 'published.pdparams')
    paddle.save({k: paddle.to_tensor(v) for k, v in weights.items()}, path)
    model = build_model(Config(config_for(manifest_name),
                               opts=['model.backbone.pretrained=null', f'model.pretrained={path}']))
    loaded = model.state_dict()
    for key in (manifest['params'][0]['key'], manifest['params'][-1]['key']):
        np.testing.assert_array_equal(loaded[key].numpy(), weights[key])


@pytest.mark.parametrize('rel_path', PADDLESEG_COPIES)
def test_paddleseg_seed_configs_run_unchanged(rel_path):
    """PaddleSeg's own files (with their _base_ layout) read, check and build here."""
    theirs = Built(Config(os.path.join(PADDLESEG_CONFIGS, os.path.relpath(rel_path, 'configs')),
                          opts=NO_DOWNLOAD))
    ours = Config(os.path.join(REPO_ROOT, rel_path), opts=NO_DOWNLOAD)
    assert theirs.config.dic == ours.dic  # the shipped configs are PaddleSeg's, values and all
    assert theirs.config.best_metric == 'sad' and theirs.config.iters == 100000
    assert [type(t).__name__ for t in theirs.val_transforms] == \
        [t['type'] for t in theirs.config.val_dataset_config['transforms']]
    manifest = load_manifest(SHIPPED_CONFIGS[rel_path])
    assert list(theirs.model.state_dict()) == [e['key'] for e in manifest['params']]
    optimizer = theirs.optimizer
    dim = 'dim_vgg16' in rel_path
    assert type(optimizer) is (paddle.optimizer.Adam if dim else paddle.optimizer.Momentum)
    assert optimizer.get_lr() == pytest.approx(0.001 if dim else 0.02)


@pytest.mark.parametrize('rel_path,backbone', [('configs/modnet/modnet_mobilenetv2.yml', 'MobileNetV2'),
                                               ('configs/modnet/modnet_resnet50_vd.yml', 'ResNet50_vd'),
                                               ('configs/modnet/modnet_hrnet_w18.yml', 'HRNet_W18'),
                                               ('configs/dim/dim_vgg16.yml', 'VGG16')])
def test_seed_configs_read(rel_path, backbone):
    cfg = Config(os.path.join(REPO_ROOT, rel_path))
    assert cfg.dic['model']['backbone']['type'] == backbone
    assert cfg.iters == 100000 and cfg.batch_size == 16
    assert cfg.dic['model']['backbone']['pretrained'].startswith('https://')
    # inherited values arrive through _base_
    assert cfg.val_dataset_config['mode'] == 'val'


# ----------------------------------------------------------------------------- PP-Matting
W18_URL = 'https://bj.bcebos.com/paddleseg/dygraph/hrnet_w18_ssld.tar.gz'
W48_URL = 'https://bj.bcebos.com/paddleseg/dygraph/hrnet_w48_ssld.tar.gz'
# PaddleSeg's four PP-Matting configs -> (backbone, its pretrained URL, iters, train crop side,
# val max_short, dataset root); the models themselves are checked in test_models_ppmatting.py
PPMATTING = {
    'configs/ppmatting/ppmatting-hrnet_w18-human_512.yml':
        ('HRNet_W18', W18_URL, 200000, 512, 512, 'data/PPM-100'),
    'configs/ppmatting/ppmatting-hrnet_w18-human_1024.yml':
        ('HRNet_W18', W18_URL, 200000, 1024, 1024, 'data/PPM-100'),
    'configs/ppmatting/ppmatting-hrnet_w48-composition.yml':
        ('HRNet_W48', W48_URL, 300000, 512, 1536, 'data/matting/Composition-1k'),
    'configs/ppmatting/ppmatting-hrnet_w48-distinctions.yml':
        ('HRNet_W48', W48_URL, 300000, 512, 1536, 'data/matting/Distinctions-646'),
}
# the shipped images, listed with a space as separator (the Distinctions config says '|')
ON_SHIPPED_DATA = [f'train_dataset.dataset_root={REAL_DATA_ROOT}',
                   'train_dataset.train_file=val_with_bg.txt', "train_dataset.separator=' '",
                   f'val_dataset.dataset_root={REAL_DATA_ROOT}', 'val_dataset.val_file=val.txt',
                   "val_dataset.separator=' '"]


def _ppmatting(rel_path, opts=()):
    return Built(Config(os.path.join(REPO_ROOT, rel_path), opts=list(opts)))


@pytest.mark.parametrize('rel_path', sorted(PPMATTING))
def test_ppmatting_config_sections(rel_path):
    backbone, url, iters, _, _, root = PPMATTING[rel_path]
    built = _ppmatting(rel_path)
    cfg = built.config
    assert cfg.dic['model'] == {'type': 'PPMatting', 'backbone': {'type': backbone, 'pretrained': url},
                                'pretrained': None}
    assert cfg.iters == iters and cfg.batch_size == 4
    assert cfg.dic['optimizer'] == {'type': 'sgd', 'momentum': 0.9, 'weight_decay': 4.0e-5}
    sched = built.lr_scheduler
    assert type(sched).__name__ == 'PolynomialDecay'
    # PaddleSeg fills decay_steps with iters
    assert sched.decay_steps == iters and sched.end_lr == 0 and sched.power == 0.9
    assert sched.base_lr == pytest.approx(0.01)
    assert cfg.dic['train_dataset']['dataset_root'] == root
    assert cfg.dic['val_dataset']['dataset_root'] == root
    assert cfg.dic['val_dataset']['get_trimap'] is False


@pytest.mark.parametrize('rel_path', sorted(PPMATTING))
def test_ppmatting_pipelines_run_on_the_shipped_images(rel_path):
    _, _, _, crop, max_short, _ = PPMATTING[rel_path]
    built = _ppmatting(rel_path, ON_SHIPPED_DATA)
    np.random.seed(0)
    sample = built.train_dataset[0]
    h, w = sample['img'].shape[1:]
    if 'w48' in rel_path:
        # Padding -> RandomCrop -> Resize(512): always 512 x 512
        assert (h, w) == (512, 512)
    else:
        # LimitShort -> RandomCrop(crop): the crop, or the whole (smaller) image
        assert h <= crop and w <= crop and min(h, w) <= max_short
    for key, channels in (('img', 3), ('fg', 3), ('bg', 3), ('alpha', 1), ('trimap', 1)):
        assert sample[key].shape == (channels, h, w) and sample[key].dtype == np.float32, key
    assert set(np.unique(sample['trimap'])) <= {0.0, 128.0, 255.0}

    v = built.val_dataset[0]
    assert 'trimap' not in v and v['img'].shape[1] % 32 == 0 and v['img'].shape[2] % 32 == 0
    assert [type(t).__name__ for t in built.val_transforms] == \
        ['LoadImages', 'LimitShort', 'ResizeToIntMult', 'Normalize']


def test_ppmatting_human_configs_train_transforms():
    built = _ppmatting('configs/ppmatting/ppmatting-hrnet_w18-human_1024.yml', ON_SHIPPED_DATA)
    names = [type(t).__name__ for t in built.train_dataset.transforms.transforms]
    assert names == ['LoadImages', 'LimitShort', 'RandomCrop', 'RandomDistort', 'RandomBlur',
                     'RandomNoise', 'RandomReJpeg', 'RandomHorizontalFlip', 'Normalize']


def test_benchmark_dataset_names_are_matting_datasets():
    assert manager.DATASETS['Composition1K'] is Composition1K
    assert manager.DATASETS['Distinctions646'] is Distinctions646
    for type_name in ('Composition1K', 'Distinctions646'):
        built = _ppmatting('configs/ppmatting/ppmatting-hrnet_w48-distinctions.yml',
                           ON_SHIPPED_DATA + [f'val_dataset.type={type_name}'])
        val = built.val_dataset
        assert type(val).__name__ == type_name and isinstance(val, MattingDataset)
        assert len(val) == 6 and val[0]['img'].shape[0] == 3

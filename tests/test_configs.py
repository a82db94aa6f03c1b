"""The shipped configs build the models whose state dicts PaddleSeg's published weights fit."""
import json
import os

import numpy as np
import paddle
import pytest

from paddlematting import Config
from paddlematting.builders import Built

from conftest import REPO_ROOT

CONFIG_FOR_MANIFEST = {
    'dim_vgg16': 'configs/dim/dim_vgg16.yml',
    'modnet_mobilenetv2': 'configs/modnet/modnet_mobilenetv2.yml',
    'modnet_resnet50_vd': 'configs/modnet/modnet_resnet50_vd.yml',
    'modnet_hrnet_w18': 'configs/modnet/modnet_hrnet_w18.yml',
}
NO_DOWNLOAD = ['model.backbone.pretrained=null', 'model.pretrained=null']


@pytest.mark.parametrize('name', sorted(CONFIG_FOR_MANIFEST))
def test_config_model_matches_manifest_and_loads_published_layout(name, shared_reference, det_weights, tmp_path):
    with open(os.path.join(shared_reference, 'manifests', name + '.json')) as f:
        manifest = json.load(f)
    cfg = Built(Config(os.path.join(REPO_ROOT, CONFIG_FOR_MANIFEST[name]), opts=NO_DOWNLOAD))
    model = cfg.model
    state = model.state_dict()
    assert [(k, list(v.shape)) for k, v in state.items()] == \
        [(e['key'], list(e['shape'])) for e in manifest['params']]
    assert sum(int(np.prod(v.shape)) for v in state.values()) == manifest['total_params']

    # a file laid out like PaddleSeg's published .pdparams loads through `model.pretrained`
    # with nothing missing or unexpected (strict), and every value arrives
    weights = det_weights.make_weights(manifest)
    path = str(tmp_path / 'published.pdparams')
    paddle.save({k: paddle.to_tensor(v) for k, v in weights.items()}, path)
    cfg2 = Built(Config(os.path.join(REPO_ROOT, CONFIG_FOR_MANIFEST[name]),
                        opts=['model.backbone.pretrained=null', f'model.pretrained={path}']))
    loaded = cfg2.model.state_dict()
    for key in (manifest['params'][0]['key'], manifest['params'][-1]['key']):
        np.testing.assert_array_equal(loaded[key].numpy(), weights[key])


PADDLESEG_CONFIGS = os.path.join(REPO_ROOT, 'tests', 'data', 'paddleseg_configs')


@pytest.mark.parametrize('rel_path', sorted(CONFIG_FOR_MANIFEST.values()))
def test_paddleseg_seed_configs_run_unchanged(rel_path, shared_reference):
    """PaddleSeg's own files (with their _base_ layout) read, check and build here."""
    name = os.path.splitext(os.path.basename(rel_path))[0]
    theirs = Built(Config(os.path.join(PADDLESEG_CONFIGS, os.path.relpath(rel_path, 'configs')),
                          opts=NO_DOWNLOAD))
    ours = Config(os.path.join(REPO_ROOT, rel_path), opts=NO_DOWNLOAD)
    assert theirs.config.dic == ours.dic  # the shipped configs are PaddleSeg's, values and all
    assert theirs.config.best_metric == 'sad' and theirs.config.iters == 100000
    assert [type(t).__name__ for t in theirs.val_transforms] == \
        [t['type'] for t in theirs.config.val_dataset_config['transforms']]
    with open(os.path.join(shared_reference, 'manifests', name + '.json')) as f:
        manifest = json.load(f)
    assert list(theirs.model.state_dict()) == [e['key'] for e in manifest['params']]
    optimizer = theirs.optimizer
    expected = {'dim_vgg16': paddle.optimizer.Adam}.get(name, paddle.optimizer.Momentum)
    assert type(optimizer) is expected
    assert optimizer.get_lr() == pytest.approx(0.001 if name == 'dim_vgg16' else 0.02)

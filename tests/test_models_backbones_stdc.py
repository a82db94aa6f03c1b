"""STDC backbones: PaddleSeg's state-dict layout (from the PP-MattingV2 manifest), the
case-A feature fingerprints, and the feature contract (strides, widths, odd sizes)."""
import json
import os

import numpy as np
import paddle
import pytest

from paddlematting.models.backbones import STDC1, STDC2, STDCNet
from paddlematting.models.backbones.stdc import CatBottleneck
from paddlematting.config import manager

from conftest import REF_ATOL, REF_RTOL

MANIFEST = 'manifests/ppmattingv2_stdc1.json'
PREFIX = 'backbone.'


def _backbone_entries(ref_dir):
    with open(os.path.join(ref_dir, MANIFEST)) as f:
        manifest = json.load(f)
    return manifest, [dict(e, key=e['key'][len(PREFIX):]) for e in manifest['params']
                      if e['key'].startswith(PREFIX)]


def test_registered_names():
    assert manager.BACKBONES['STDC1'] is STDC1
    assert manager.BACKBONES['STDC2'] is STDC2


def test_stdc1_state_dict_matches_the_published_layout(shared_reference):
    manifest, entries = _backbone_entries(shared_reference)
    state = STDC1().state_dict()
    assert [(k, list(v.shape)) for k, v in state.items()] == [(e['key'], e['shape']) for e in entries]
    for e in entries:
        t = state[e['key']]
        assert str(t.dtype).split('.')[-1] == e['dtype'], e['key']
        assert (not t.stop_gradient) == e['trainable'], e['key']
    assert sum(int(np.prod(v.shape)) for v in state.values()) == manifest['params_by_module']['backbone']


def test_stdc1_features_match_reference_fingerprints(shared_reference, det_weights):
    manifest, _ = _backbone_entries(shared_reference)
    weights = det_weights.make_weights(manifest)
    backbone = STDC1()
    missing, unexpected = backbone.set_state_dict(
        {k[len(PREFIX):]: paddle.to_tensor(v) for k, v in weights.items() if k.startswith(PREFIX)})
    assert not missing and not unexpected
    backbone.eval()
    ref = np.load(os.path.join(shared_reference, 'outputs/ppmattingv2_stdc1_A.npz'))
    feats_ref = np.load(os.path.join(shared_reference, 'outputs/ppmattingv2_stdc1_A_feats.npz'))
    with paddle.no_grad():
        feats = [f.numpy() for f in backbone(paddle.to_tensor(ref['img']))]
    assert len(feats) == 5
    for i, f in enumerate(feats):
        np.testing.assert_allclose(f.mean(axis=(2, 3)), feats_ref[f'backbone_feat{i}_chmean'],
                                   rtol=REF_RTOL, atol=REF_ATOL, err_msg=f'feat{i}')
        np.testing.assert_allclose(f.std(axis=(2, 3)), feats_ref[f'backbone_feat{i}_chstd'],
                                   rtol=REF_RTOL, atol=REF_ATOL, err_msg=f'feat{i}')


@pytest.mark.parametrize('factory, depths', [(STDC1, [2, 2, 2]), (STDC2, [4, 5, 3])])
def test_feature_contract_with_odd_sizes(factory, depths):
    backbone = factory()
    assert backbone.feat_channels == [32, 64, 256, 512, 1024]
    assert len(backbone.features) == 2 + sum(depths)
    backbone.eval()
    h, w = 65, 97  # every stride-2 layer rounds up
    with paddle.no_grad():
        feats = backbone(paddle.zeros([2, 3, h, w]))
    expected = [[2, c, -(-h // s), -(-w // s)]
                for c, s in zip(backbone.feat_channels, (2, 4, 8, 16, 32))]
    assert [list(f.shape) for f in feats] == expected


@pytest.mark.parametrize('num_convs, widths', [(2, [8, 8]), (3, [8, 4, 4]), (4, [8, 4, 2, 2])])
def test_stdc_module_concatenates_halving_widths(num_convs, widths):
    block = CatBottleneck(6, 16, num_convs, stride=2)
    assert [conv.conv.weight.shape[0] for conv in block.conv_list] == widths
    block.eval()
    with paddle.no_grad():
        out = block(paddle.rand([1, 6, 9, 10]))
    assert list(out.shape) == [1, 16, 5, 5]


def test_stride_one_module_has_no_downsampling_layers():
    block = CatBottleneck(16, 16, 4, stride=1)
    assert not any('avd_layer' in k for k in block.state_dict())
    block.eval()
    with paddle.no_grad():
        assert list(block(paddle.rand([1, 16, 7, 6])).shape) == [1, 16, 7, 6]


def test_initialisation_and_pretrained_are_paddleseg_like():
    backbone = STDC1(pretrained='some/weights.pdparams')
    # the path is only stored: the model builder loads it (constructors download nothing)
    assert backbone.pretrained == 'some/weights.pdparams'
    conv = backbone.features[0].conv.weight.numpy()
    assert 0 < conv.std() < 0.002
    np.testing.assert_array_equal(backbone.features[0].bn.weight.numpy(), 1.0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='5 channels and 3 stage depths'):
        STDCNet(layers=(2, 2))
    with pytest.raises(ValueError, match='at least 2 convs'):
        CatBottleneck(8, 8, num_convs=1)

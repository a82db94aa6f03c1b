"""ResNet_vd and HRNet backbones: PaddleSeg-compatible state dicts and eval numerics.

The reference comparisons use tests/data/reference (shipped, never skipped): the MODNet
manifests list every state-dict entry, and *_A_feats.npz holds per-channel mean/std of
every backbone feature on case A with the deterministic recipe weights.
"""
import os

import numpy as np
import paddle
import pytest

from paddlematting.builders import load_declared_pretrained
from paddlematting.models.backbones.hrnet import HRNet, HRNet_W18
from paddlematting.models.backbones.resnet_vd import ResNet18_vd, ResNet50_vd
from paddlematting.config import manager

from conftest import REF_ATOL, REF_RTOL

PREFIX = 'backbone.'
# reference model name -> backbone factory
BACKBONES = {'modnet_resnet50_vd': ResNet50_vd, 'modnet_hrnet_w18': HRNet_W18}
EXPECTED_CHANNELS = {'modnet_resnet50_vd': [64, 256, 512, 1024, 2048],
                     'modnet_hrnet_w18': [64, 18, 36, 72, 144]}

def _manifest(shared_reference, name):
    import json
    with open(os.path.join(shared_reference, 'manifests', name + '.json')) as f:
        return json.load(f)


def _recipe_backbone(name, shared_reference, det_weights):
    """The backbone in eval mode with the recipe weights of the whole-model manifest.

    Each recipe array depends only on (key, shape, model gain), so generating the
    ``backbone.`` entries alone gives the same arrays at a fraction of the cost.
    """
    manifest = _manifest(shared_reference, name)
    own_entries = [e for e in manifest['params'] if e['key'].startswith(PREFIX)]
    weights = det_weights.make_weights({'name': manifest['name'], 'params': own_entries})
    net = BACKBONES[name]()
    net.set_state_dict({k[len(PREFIX):]: paddle.to_tensor(v) for k, v in weights.items()})
    net.eval()
    return net


def test_registered_names():
    assert manager.BACKBONES['ResNet50_vd'] is ResNet50_vd
    assert manager.BACKBONES['HRNet_W18'] is HRNet_W18


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_state_dict_matches_manifest(name, shared_reference):
    ref = [(e['key'][len(PREFIX):], list(e['shape']), e['dtype'], e['trainable'])
           for e in _manifest(shared_reference, name)['params'] if e['key'].startswith(PREFIX)]
    net = BACKBONES[name]()
    ours = [(k, list(v.shape), str(v.dtype).replace('paddle.', ''), not v.stop_gradient)
            for k, v in net.state_dict().items()]
    assert len(ours) == len(ref)
    mismatch = [(a, b) for a, b in zip(ours, ref) if a != b]
    assert not mismatch, 'first mismatches (ours, reference): {}'.format(mismatch[:3])
    assert net.feat_channels == EXPECTED_CHANNELS[name]


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_features_match_reference_fingerprints(name, shared_reference, det_weights):
    net = _recipe_backbone(name, shared_reference, det_weights)
    ref = np.load(os.path.join(shared_reference, 'outputs', name + '_A_feats.npz'))
    img = det_weights.make_scene(1, 256, 320, seed=0)['img']
    with paddle.no_grad():
        feats = net(paddle.to_tensor(img))
    assert len(feats) == 5
    for i, feat in enumerate(feats):
        feat = feat.numpy()
        stride = 2 ** (i + 1)
        assert feat.shape == (1, net.feat_channels[i], 256 // stride, 320 // stride)
        for stat, ours in (('chmean', feat.mean(axis=(2, 3))), ('chstd', feat.std(axis=(2, 3)))):
            np.testing.assert_allclose(ours, ref['backbone_feat%d_%s' % (i, stat)],
                                       rtol=REF_RTOL, atol=REF_ATOL, err_msg='feat%d %s' % (i, stat))


@pytest.mark.parametrize('factory, channels', [
    (HRNet_W18, [64, 18, 36, 72, 144]),
    (ResNet18_vd, [64, 64, 128, 256, 512]),
])
def test_odd_input_sizes_give_ceil_strides(factory, channels):
    """Odd sizes exercise the fusion resizes (HRNet) and ceil-mode shortcut pooling."""
    paddle.seed(0)
    net = factory()
    net.eval()
    h, w = 37, 53
    with paddle.no_grad():
        feats = net(paddle.rand([1, 3, h, w]))
    assert net.feat_channels == channels
    for i, feat in enumerate(feats):
        stride = 2 ** (i + 1)
        assert list(feat.shape) == [1, channels[i], -(-h // stride), -(-w // stride)]
        assert np.isfinite(feat.numpy()).all()


def test_hrnet_initialisation_is_near_identity():
    """Conv weights start tiny (std 1e-3) and BN scales at 1, as HRNet training expects."""
    net = HRNet(branch_channels=(8, 16, 32, 64), stage_modules=(1, 1, 1), stage_blocks=(1, 1, 1),
                stage1_blocks=1)
    sd = net.state_dict()
    conv = np.concatenate([v.numpy().ravel() for k, v in sd.items() if k.endswith('_conv.weight')])
    assert 0.0008 < conv.std() < 0.0012
    bn_scale = [v.numpy() for k, v in sd.items() if k.endswith('_batch_norm.weight')]
    assert all(np.all(s == 1.0) for s in bn_scale)
    assert 'la1.bb_layer2_1.conv_down._conv.weight' in sd
    assert 'st4.stage_st4_1.fuse_func.residual_st4_1_layer_4_1_3._conv.weight' in sd


def test_pretrained_argument_loads_weights_and_ignores_heads(tmp_path):
    """`pretrained` loads a checkpoint non-strictly: backbone keys land, head keys are ignored."""
    paddle.seed(1)
    source = HRNet(branch_channels=(8, 16, 32, 64), stage_modules=(1, 1, 1),
                   stage_blocks=(1, 1, 1), stage1_blocks=1)
    state = {k: v.numpy() + 0.5 for k, v in source.state_dict().items()}
    state['fc.weight'] = np.zeros([4, 10], np.float32)  # an ImageNet classifier head
    path = str(tmp_path / 'hrnet_tiny.pdparams')
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, path)
    net = HRNet(branch_channels=(8, 16, 32, 64), stage_modules=(1, 1, 1),
                stage_blocks=(1, 1, 1), stage1_blocks=1, pretrained=path)
    # loaded as a model's part is, by build_model's loader (the constructor stores the path)
    load_declared_pretrained(paddle.nn.LayerList([net]))
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k], err_msg=k)


# ----------------------------------------------------------------- whole MODNet
# MODNet reads backbone features 0, 1 and 4 only, so in HRNet's last module the fusion
# paths that produce branches 2 and 3 (1/8, 1/16) never reach the loss
HRNET_UNUSED_FUSE_PATHS = {'residual_st4_3_layer_%s' % s for s in (
    '2_1_1', '2_3', '2_4', '3_1_1', '3_1_2', '3_2_1', '3_4')}


def _modnet(name):
    modnet = pytest.importorskip('paddlematting.models.modnet')
    return modnet.MODNet(BACKBONES[name](), hr_channels=32)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_modnet_matches_reference_alpha(name, shared_reference, det_weights):
    manifest = _manifest(shared_reference, name)
    net = _modnet(name)
    ours = [(k, list(v.shape), str(v.dtype).replace('paddle.', ''), not v.stop_gradient)
            for k, v in net.state_dict().items()]
    assert ours == [(e['key'], e['shape'], e['dtype'], e['trainable']) for e in manifest['params']]

    weights = det_weights.make_weights(manifest)
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
    net.eval()
    ref = np.load(os.path.join(shared_reference, 'outputs', name + '_A.npz'))
    with paddle.no_grad():
        alpha = net({'img': paddle.to_tensor(ref['img'])}).numpy()
    np.testing.assert_allclose(alpha, ref['alpha'], rtol=REF_RTOL, atol=REF_ATOL)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_modnet_trains_through_backbone(name, det_weights):
    """Train-mode forward/backward at 64x64: finite losses, finite gradient in every
    backbone parameter that can reach the loss."""
    paddle.seed(0)
    net = _modnet(name)
    net.train()
    scene = det_weights.make_scene(1, 64, 64, seed=3)
    batch = {k: paddle.to_tensor(scene[k]) for k in ('img', 'alpha', 'trimap')}
    losses = net.loss(net(batch), batch)
    assert all(np.isfinite(float(v)) for v in losses.values())
    losses['all'].backward()
    without_grad = set()
    for key, param in net.backbone.named_parameters():
        if param.stop_gradient:  # BN running statistics are parameters in Paddle
            continue
        if param.grad is None:
            without_grad.add(key.split('.')[-3])
        else:
            assert np.isfinite(param.grad.numpy()).all(), key
    expected = HRNET_UNUSED_FUSE_PATHS if name == 'modnet_hrnet_w18' else set()
    assert without_grad == expected

"""PP-HumanMatting + ResNet34_vd: state-dict layout, case-A heads and alpha against the shared
PaddleSeg reference, batch independence, static export, the config, and the training losses."""
import json
import os

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from scipy import ndimage

from paddlematting import Config
from paddlematting.inference import Predictor, export_model
from paddlematting.models import HumanMatting
from paddlematting.models.backbones.resnet_vd import ResNet34_vd
from paddlematting.config import manager
from paddlematting.builders import Built

from conftest import REF_ATOL, REF_RTOL, assert_matches_manifest, config_for

MANIFEST = 'manifests/human_matting_resnet34_vd.json'
CASE_A = 'outputs/human_matting_resnet34_vd_A.npz'
CASE_A_FEATS = 'outputs/human_matting_resnet34_vd_A_feats.npz'
CONFIG = config_for('human_matting_resnet34_vd')
NO_DOWNLOAD = ['model.backbone.pretrained=null', 'model.pretrained=null']
# glance pixels whose top-1 minus top-2 probability is below this may flip class on another CPU
MARGIN = 1e-3
# a flipped 1/4-size pixel reaches this far (in 1/4-size pixels) into the refined alpha: the
# bilinear x2, two 3x3 convs at 1/2 size, nearest x2 and two 3x3 convs at full size
REFINER_REACH = 3


def _manifest(ref_dir):
    with open(os.path.join(ref_dir, MANIFEST)) as f:
        return json.load(f)


def _model(ref_dir, dw, **kwargs):
    weights = dw.make_weights(_manifest(ref_dir))
    model = HumanMatting(backbone=ResNet34_vd(), **kwargs)
    missing, unexpected = model.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
    assert not missing and not unexpected
    model.eval()
    return model, dw.weights_sha256(weights)


_CACHE = {}


def _case_a(ref_dir, dw):
    """Heads and backbone features of case A with the reference weights (computed once)."""
    if ref_dir not in _CACHE:
        model, sha = _model(ref_dir, dw)
        ref = np.load(os.path.join(ref_dir, CASE_A))
        img = paddle.to_tensor(ref['img'])
        with paddle.no_grad():
            heads = {k: v.numpy() for k, v in model.heads({'img': img}).items()}
            alpha = model({'img': img}).numpy()
            feats = [f.numpy() for f in model.backbone(F.interpolate(
                img, scale_factor=0.25, mode='bilinear', align_corners=False))]
        _CACHE[ref_dir] = dict(model=model, sha=sha, heads=heads, alpha=alpha, feats=feats)
    return _CACHE[ref_dir]


def _glance_margin(glance):
    top = np.sort(glance, axis=1)
    return top[:, -1:] - top[:, -2:-1]


def _sure_pixels(glance, full_shape):
    """Pixels of the full-size output that no near-tie of the 1/4-size glance argmax reaches."""
    near_tie = _glance_margin(glance)[:, 0] < MARGIN
    reach = np.stack([ndimage.binary_dilation(m, iterations=REFINER_REACH) for m in near_tie])
    scale = full_shape[-1] // glance.shape[-1]
    reach_full = reach.repeat(scale, axis=1).repeat(scale, axis=2)[:, np.newaxis]
    return ~reach_full, int(near_tie.sum())


# ------------------------------------------------------------------ layout
def test_state_dict_matches_manifest(shared_reference):
    manifest = _manifest(shared_reference)
    state = HumanMatting(backbone=ResNet34_vd()).state_dict()
    assert_matches_manifest(state, manifest)


def test_registered_under_paddleseg_names():
    assert manager.MODELS['HumanMatting'] is HumanMatting
    assert HumanMatting.input_names == ('img',)
    assert list(manager.BACKBONES['ResNet34_vd']().feat_channels) == [64, 64, 128, 256, 512]


def test_config_builds_the_manifest_model_and_128_multiple_inputs(shared_reference):
    cfg = Built(Config(CONFIG, opts=NO_DOWNLOAD))
    model = cfg.model
    assert isinstance(model, HumanMatting) and model.if_refine and model.backbone_scale == 0.25
    assert model.refiner.kernel_size == 3
    manifest = _manifest(shared_reference)
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == \
        [(e['key'], e['shape']) for e in manifest['params']]
    # the val/predict transforms end on sizes the network accepts
    from paddlematting.builders import build_transforms
    from paddlematting.pipeline.prediction import prepare_sample
    transforms = build_transforms(cfg.config.val_dataset_config['transforms'])
    image = np.zeros((300, 451, 3), np.uint8)
    sample = prepare_sample(image, None, transforms)
    h, w = sample['img'].shape[-2:]
    assert h % 128 == 0 and w % 128 == 0 and min(h, w) == 2048
    optimizer = cfg.optimizer
    assert isinstance(optimizer, paddle.optimizer.Momentum)


# ------------------------------------------------------------------ case A
def test_weights_checksum_matches_reference(shared_reference, det_weights):
    ref = np.load(os.path.join(shared_reference, CASE_A))
    assert _case_a(shared_reference, det_weights)['sha'] == json.loads(str(ref['meta']))['weights_sha256']


def test_backbone_and_hidden_fingerprints(shared_reference, det_weights):
    run = _case_a(shared_reference, det_weights)
    fp = np.load(os.path.join(shared_reference, CASE_A_FEATS))
    for i, feat in enumerate(run['feats']):
        np.testing.assert_allclose(feat.mean(axis=(2, 3)), fp[f'backbone_feat{i}_chmean'],
                                   rtol=REF_RTOL, atol=REF_ATOL, err_msg=f'feat{i} mean')
        np.testing.assert_allclose(feat.std(axis=(2, 3)), fp[f'backbone_feat{i}_chstd'],
                                   rtol=REF_RTOL, atol=REF_ATOL, err_msg=f'feat{i} std')
    hidden = run['heads']['hidden']
    np.testing.assert_allclose(hidden.mean(axis=(2, 3)), fp['hid_chmean'], rtol=REF_RTOL, atol=REF_ATOL)
    np.testing.assert_allclose(hidden.std(axis=(2, 3)), fp['hid_chstd'], rtol=REF_RTOL, atol=REF_ATOL)


def test_soft_heads_match_reference(shared_reference, det_weights):
    """glance and focus carry no argmax: compared everywhere first."""
    ref = np.load(os.path.join(shared_reference, CASE_A))
    heads = _case_a(shared_reference, det_weights)['heads']
    for key in ('glance', 'focus'):
        assert heads[key].shape == ref[key].shape, key
        np.testing.assert_allclose(heads[key], ref[key], rtol=REF_RTOL, atol=REF_ATOL, err_msg=key)


def test_alpha_and_argmax_dependent_heads_match_reference_off_near_ties(shared_reference, det_weights):
    ref = np.load(os.path.join(shared_reference, CASE_A))
    run = _case_a(shared_reference, det_weights)
    heads = run['heads']
    coarse_sure = _glance_margin(ref['glance']) >= MARGIN
    full_sure, n_ties = _sure_pixels(ref['glance'], ref['alpha'].shape)
    # case A has a handful of near-ties (smallest margin 2.3e-4); the rest must match
    assert n_ties <= 20 and full_sure.mean() > 0.95
    assert abs(_glance_margin(ref['glance']).min() - float(ref['glance_margin_min'])) < 1e-6
    for key in ('fusion', 'error'):
        np.testing.assert_allclose(heads[key][coarse_sure], ref[key][coarse_sure],
                                   rtol=REF_RTOL, atol=REF_ATOL, err_msg=key)
    for key in ('refine_raw', 'alpha'):
        np.testing.assert_allclose(heads[key][full_sure], ref[key][full_sure],
                                   rtol=REF_RTOL, atol=REF_ATOL, err_msg=key)
    np.testing.assert_array_equal(run['alpha'], heads['alpha'])
    assert run['alpha'].shape == (1, 1, 256, 384)
    assert run['alpha'].min() >= 0 and run['alpha'].max() <= 1
    np.testing.assert_allclose(run['alpha'].mean(), float(ref['alpha_mean']), atol=1e-4)


def test_fusion_is_the_glance_argmax_rule(shared_reference, det_weights):
    heads = _case_a(shared_reference, det_weights)['heads']
    index = heads['glance'].argmax(axis=1)[:, np.newaxis]
    expected = np.where(index == 0, 1.0, np.where(index == 1, heads['focus'], 0.0))
    np.testing.assert_array_equal(heads['fusion'], expected.astype(np.float32))
    assert set(np.unique(index)) == {0, 1, 2}


# ------------------------------------------------------------------ batches, sizes, export
def test_batch_of_two_scenes_equals_each_alone(shared_reference, det_weights):
    model = _case_a(shared_reference, det_weights)['model']
    scenes = [det_weights.make_scene(1, 256, 384, seed=s)['img'] for s in (0, 1)]
    with paddle.no_grad():
        alone = [model.heads({'img': paddle.to_tensor(s)}) for s in scenes]
        both = model.heads({'img': paddle.to_tensor(np.concatenate(scenes))})
    for key in ('glance', 'focus', 'fusion', 'error', 'refine_raw', 'alpha'):
        for i in range(2):
            np.testing.assert_allclose(both[key].numpy()[i:i + 1], alone[i][key].numpy(),
                                       rtol=0, atol=1e-6, err_msg=f'{key} sample {i}')
    # the two scenes differ, so the comparison above is not vacuous
    assert np.abs(alone[0]['alpha'].numpy() - alone[1]['alpha'].numpy()).max() > 0.1


def test_sizes_that_are_not_multiples_of_128_are_refused(shared_reference, det_weights):
    model = _case_a(shared_reference, det_weights)['model']
    with pytest.raises(ValueError, match='multiples of 128.*ResizeToIntMult'):
        model({'img': paddle.zeros([1, 3, 128, 192])})


def test_without_refiner_the_coarse_alpha_is_full_size():
    paddle.seed(0)
    model = HumanMatting(backbone=ResNet34_vd(), if_refine=False)
    model.eval()
    assert 'refiner' not in {k.split('.')[0] for k in model.state_dict()}
    assert model.backbone_scale == 1
    with paddle.no_grad():
        out = model({'img': paddle.to_tensor(np.random.default_rng(0).standard_normal(
            (1, 3, 128, 256)).astype(np.float32))})
    assert out.shape == [1, 1, 128, 256]
    with pytest.raises(ValueError, match='backbone_scale'):
        HumanMatting(backbone=ResNet34_vd(), backbone_scale=0.75)


def test_static_export_equals_dygraph_at_two_sizes(shared_reference, det_weights, tmp_path):
    model = _case_a(shared_reference, det_weights)['model']
    folder = export_model(model, str(tmp_path / 'export'), [{'type': 'Normalize'}])
    predictor = Predictor(folder, device='cpu', threads=1)
    assert predictor.deploy.input_names == ['img']
    for n, h, w in [(1, 128, 128), (2, 128, 256)]:
        img = det_weights.make_scene(n, h, w, seed=5)['img']
        with paddle.no_grad():
            expected = model({'img': paddle.to_tensor(img)}).numpy()
        out = predictor(img)
        assert out.shape == (n, 1, h, w)
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-4)


# ------------------------------------------------------------------ training
def _labels(rng, n, h, w):
    alpha = rng.uniform(0, 1, (n, 1, h, w)).astype(np.float32)
    trimap = rng.choice(np.array([0, 128, 255], np.float32), size=(n, 1, h, w))
    return alpha, trimap


def test_loss_terms_equal_the_formulas(rng):
    """At equal logit and label sizes every resize is the identity, so numpy restates the terms."""
    n, h, w = 2, 8, 12
    alpha, trimap = _labels(rng, n, h, w)
    logits_np = {
        'glance': rng.dirichlet([1, 1, 1], size=(n, h, w)).transpose(0, 3, 1, 2).astype(np.float32),
        'focus': rng.uniform(0, 1, (n, 1, h, w)).astype(np.float32),
        'fusion': rng.uniform(0, 1, (n, 1, h, w)).astype(np.float32),
        'error': rng.uniform(0, 1, (n, 1, h, w)).astype(np.float32),
        'refine': rng.uniform(0, 1, (n, 1, h, w)).astype(np.float32),
    }
    model = HumanMatting(backbone=ResNet34_vd())
    losses = model.loss({k: paddle.to_tensor(v) for k, v in logits_np.items()},
                        {'alpha': paddle.to_tensor(alpha), 'trimap': paddle.to_tensor(trimap)})
    g = logits_np['glance'].astype(np.float64)
    label = np.where(trimap == 128, 1, np.where(trimap == 0, 2, 0))[:, 0]
    picked = np.take_along_axis(g, label[:, np.newaxis], axis=1)
    expected = {'glance': -np.log(picked + 1e-6).mean()}
    band = (trimap == 128).astype(np.float64)
    rsd = np.sqrt((logits_np['focus'] - alpha.astype(np.float64)) ** 2 + 1e-6)
    expected['focus'] = (rsd * band).sum() / (band.sum() + 1e-6)
    expected['cm'] = np.sqrt((logits_np['fusion'] - alpha.astype(np.float64)) ** 2 + 1e-6).mean()
    expected['err'] = ((logits_np['error'] - np.abs(logits_np['fusion'] - alpha.astype(np.float64))) ** 2).mean()
    expected['refine'] = np.abs(logits_np['refine'] - alpha.astype(np.float64)).mean()
    expected['all'] = (0.25 * (expected['glance'] + expected['focus'] + expected['cm'])
                       + expected['err'] + expected['refine'])
    assert sorted(losses) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(float(losses[key]), value, rtol=1e-5, err_msg=key)


def test_train_forward_and_backward_reach_every_trainable_parameter(rng):
    paddle.seed(0)
    model = HumanMatting(backbone=ResNet34_vd())
    model.train()
    # 2 x 256: the deepest feature is 2x2, so train-mode BN there has 8 values to normalise
    n, h, w = 2, 256, 256
    alpha, trimap = _labels(rng, n, h, w)
    data = {'img': paddle.to_tensor(rng.standard_normal((n, 3, h, w)).astype(np.float32)),
            'alpha': paddle.to_tensor(alpha), 'trimap': paddle.to_tensor(trimap)}
    logits = model(data)
    assert {k: list(v.shape) for k, v in logits.items()} == {
        'glance': [2, 3, 64, 64], 'focus': [2, 1, 64, 64], 'fusion': [2, 1, 64, 64],
        'error': [2, 1, 64, 64], 'refine': [2, 1, 256, 256]}
    losses = model.loss(logits, data)
    assert all(np.isfinite(float(v)) for v in losses.values())
    losses['all'].backward()
    no_grad = [name for name, p in model.named_parameters()
               if not p.stop_gradient and (p.grad is None or not np.any(p.grad.numpy()))]
    assert no_grad == []

"""DIM + VGG16: state-dict layout, reference outputs and losses, stages, odd sizes, training."""
import json
import os

import numpy as np
import paddle
import pytest

from paddlematting.builders import load_declared_pretrained
from paddlematting.models.backbones.vgg import VGG16
from paddlematting.models.dim import DIM
from paddlematting.config import manager

from conftest import REF_ATOL, REF_RTOL

MANIFEST = 'manifests/dim_vgg16.json'
EVAL_REF = 'outputs/dim_vgg16_A.npz'
LOSS_REF = 'outputs/dim_vgg16_loss_A'
TOL = dict(atol=REF_ATOL, rtol=REF_RTOL)
# loss terms: relative 1e-4 covers another CPU's float32 summation order
LOSS_RTOL = 1e-4

# one model + weight set for all reference tests: building DIM and making 28M
# deterministic weights each cost about a second on the shared CPU
_cache = {}


@pytest.fixture
def reference_dim(shared_reference, det_weights):
    """DIM(VGG16) in stage 3 holding the reference recipe's weights (fresh copy per test)."""
    if 'model' not in _cache:
        weights = det_weights.make_weights(os.path.join(shared_reference, MANIFEST))
        _cache['weights'] = weights
        _cache['sha'] = det_weights.weights_sha256(weights)
        _cache['model'] = DIM(VGG16(input_channels=4))
    model = _cache['model']
    # reloaded every time: a train-mode forward moves the BN running stats
    missing, unexpected = model.set_state_dict(
        {k: paddle.to_tensor(v) for k, v in _cache['weights'].items()})
    assert not missing and not unexpected
    return model, _cache['sha']


def _tensors(arrays, keys):
    return {k: paddle.to_tensor(arrays[k]) for k in keys}


def _meta_sha(npz):
    return json.loads(str(npz['meta']))['weights_sha256']


def _small_batch(size, seed=0):
    """A random [1,...,size,size] training batch whose trimap has an unknown band."""
    rng = np.random.default_rng(seed)
    alpha = np.clip(rng.random((1, 1, size, size)) * 1.4 - 0.2, 0, 1).astype('float32')
    trimap = np.where(alpha <= 0, 0, np.where(alpha >= 1, 255, 128)).astype('float32')
    fg = rng.uniform(-1, 1, (1, 3, size, size)).astype('float32')
    bg = rng.uniform(-1, 1, (1, 3, size, size)).astype('float32')
    img = alpha * fg + (1 - alpha) * bg
    return {k: paddle.to_tensor(v) for k, v in
            dict(img=img, alpha=alpha, trimap=trimap, fg=fg, bg=bg).items()}


class _TinyEncoder(paddle.nn.Layer):
    """Stands in for VGG16 where only the loss is exercised (never called)."""
    feat_channels = [8] * 6


def test_registered_names():
    assert manager.MODELS['DIM'] is DIM
    assert manager.BACKBONES['VGG16'] is VGG16


def test_state_dict_matches_manifest(shared_reference):
    with open(os.path.join(shared_reference, MANIFEST)) as f:
        manifest = json.load(f)
    model = DIM(VGG16(input_channels=4), stage=3, decoder_input_channels=512)
    state = model.state_dict()
    trainable = {name: not p.stop_gradient for name, p in model.named_parameters()}
    got = [{'key': k, 'shape': list(v.shape), 'dtype': str(v.dtype).replace('paddle.', ''),
            'trainable': trainable.get(k, False)} for k, v in state.items()]
    assert got == manifest['params']
    sizes = [int(np.prod(v.shape)) for v in state.values()]
    assert sum(sizes) == manifest['total_params'] == 28372356
    trainable_total = sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)
    assert trainable_total == manifest['trainable_params'] == 28369922
    assert model.backbone.feat_channels == [64, 128, 256, 512, 512, 512]


def test_eval_matches_reference(reference_dim, shared_reference):
    model, sha = reference_dim
    ref = np.load(os.path.join(shared_reference, EVAL_REF))
    assert sha == _meta_sha(ref), 'det_weights recipe changed: the reference no longer applies'
    model.eval()
    # capture the two stages' outputs inside the same forward that gives alpha
    captured = {}
    hooks = [model.decoder.register_forward_post_hook(
                 lambda layer, inp, out: captured.__setitem__('alpha_raw', out)),
             model.refine.register_forward_post_hook(
                 lambda layer, inp, out: captured.__setitem__('alpha_refine', out))]
    try:
        with paddle.no_grad():
            alpha = model(_tensors(ref, ['img', 'trimap']))
    finally:
        for hook in hooks:
            hook.remove()
    assert alpha.shape == [1, 1, 256, 320]
    np.testing.assert_allclose(captured['alpha_raw'].numpy(), ref['alpha_raw'], **TOL)
    np.testing.assert_allclose(captured['alpha_refine'].numpy(), ref['alpha_refine'], **TOL)
    np.testing.assert_allclose(alpha.numpy(), ref['alpha'], **TOL)
    # the reference is not trivially clipped: the test would catch a missing clip or refine
    assert ref['alpha_refine'].max() > 0 and ref['alpha'].min() >= 0 and ref['alpha'].max() <= 1


def test_train_losses_match_reference(reference_dim, shared_reference):
    model, sha = reference_dim
    ref = np.load(os.path.join(shared_reference, LOSS_REF + '.npz'))
    with open(os.path.join(shared_reference, LOSS_REF + '.json')) as f:
        ref_json = json.load(f)
    assert sha == ref_json['meta']['weights_sha256']
    model.train()
    batch = _tensors(ref, ['img', 'alpha', 'trimap', 'fg', 'bg'])
    logits = model(batch)
    assert sorted(logits) == ['alpha_pred', 'alpha_raw']
    for key in logits:
        np.testing.assert_allclose(logits[key].numpy(), ref['logit_' + key], **TOL)
    losses = model.loss(logits, batch)
    assert sorted(losses) == sorted(ref_json['loss'])
    for key, value in ref_json['loss'].items():
        np.testing.assert_allclose(float(losses[key]), value, rtol=LOSS_RTOL, atol=0)
    # all = the plain sum of the weighted terms
    np.testing.assert_allclose(float(losses['all']),
                               sum(float(losses[k]) for k in ('alpha_raw', 'comp', 'alpha_pred')),
                               rtol=1e-6)


def test_loss_hand_computed_case():
    """Perfect prediction except one unknown pixel: the terms follow from the formula."""
    alpha = np.zeros((1, 1, 4, 4), 'float32')
    trimap = np.zeros((1, 1, 4, 4), 'float32')
    trimap[0, 0, 1, 1:3] = 128                          # two unknown pixels
    fg = np.ones((1, 3, 4, 4), 'float32')
    bg = -np.ones((1, 3, 4, 4), 'float32')
    img = alpha * fg + (1 - alpha) * bg
    raw = alpha.copy()
    raw[0, 0, 1, 1] = 0.5                                # error 0.5 on one unknown pixel
    raw[0, 0, 3, 3] = 0.9                                # errors outside the band are ignored
    pred = alpha.copy()
    pred[0, 0, 1, 2] = 0.25
    labels = {k: paddle.to_tensor(v) for k, v in
              dict(img=img, alpha=alpha, trimap=trimap, fg=fg, bg=bg).items()}
    model = DIM(_TinyEncoder(), stage=3, decoder_input_channels=8)
    losses = model.loss({'alpha_raw': paddle.to_tensor(raw), 'alpha_pred': paddle.to_tensor(pred)},
                        labels)
    eps = 1e-6
    zero = np.sqrt(eps)
    # raw alpha error 0.5 -> composite error 0.5 * (fg - bg) = 1 in each of 3 channels
    expected_raw = 0.5 * (np.sqrt(0.25 + eps) + zero) / (2 + eps)
    expected_comp = 0.5 * (3 * np.sqrt(1 + eps) + 3 * zero) / (2 + eps)
    expected_pred = (np.sqrt(0.0625 + eps) + zero) / (2 + eps)
    np.testing.assert_allclose(float(losses['alpha_raw']), expected_raw, rtol=1e-6)
    np.testing.assert_allclose(float(losses['comp']), expected_comp, rtol=1e-6)
    np.testing.assert_allclose(float(losses['alpha_pred']), expected_pred, rtol=1e-6)
    np.testing.assert_allclose(float(losses['all']), expected_raw + expected_comp + expected_pred,
                               rtol=1e-6)
    model = DIM(_TinyEncoder(), stage=1, decoder_input_channels=8)
    assert sorted(model.loss({'alpha_raw': paddle.to_tensor(raw)}, labels)) == \
        ['all', 'alpha_raw', 'comp']
    model = DIM(_TinyEncoder(), stage=2, decoder_input_channels=8)
    stage2 = model.loss({'alpha_pred': paddle.to_tensor(pred)}, labels)
    assert sorted(stage2) == ['all', 'alpha_pred']
    np.testing.assert_allclose(float(stage2['all']), expected_pred, rtol=1e-6)


def test_stage1_has_no_refiner_and_eval_returns_raw_alpha():
    paddle.seed(0)
    model = DIM(VGG16(input_channels=4), stage=1)
    assert not hasattr(model, 'refine')
    batch = _small_batch(64)
    model.eval()
    with paddle.no_grad():
        alpha = model({'img': batch['img'], 'trimap': batch['trimap']})
        raw = model.forward_stages(batch)['alpha_raw']
    np.testing.assert_array_equal(alpha.numpy(), raw.numpy())
    model.train()
    assert list(model(batch)) == ['alpha_raw']


def test_stage2_trains_only_the_refiner():
    paddle.seed(1)
    model = DIM(VGG16(input_channels=4), stage=2)
    frozen_before = {k: v.numpy().copy() for k, v in model.state_dict().items()
                     if not k.startswith('refine.')}
    refine_before = {k: v.numpy().copy() for k, v in model.refine.state_dict().items()}
    assert all(p.stop_gradient for p in model.backbone.parameters() + model.decoder.parameters())
    refine_weights = [p for n, p in model.refine.named_parameters()
                      if not n.endswith(('_mean', '_variance'))]
    assert not any(p.stop_gradient for p in refine_weights)

    opt = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    model.train()
    batch = _small_batch(64)
    losses = model.loss(model(batch), batch)
    assert sorted(losses) == ['all', 'alpha_pred']
    losses['all'].backward()
    assert all(p.grad is None for p in model.backbone.parameters() + model.decoder.parameters())
    assert all(p.grad is not None for p in refine_weights)
    opt.step()

    # weights and BN running statistics of the frozen parts stay as they were
    for key, value in model.state_dict().items():
        if key in frozen_before:
            np.testing.assert_array_equal(value.numpy(), frozen_before[key], err_msg=key)
    changed = [k for k, v in model.refine.state_dict().items()
               if not np.array_equal(v.numpy(), refine_before[k])]
    assert 'conv1._conv.weight' in changed and 'conv1._batch_norm._mean' in changed


def test_odd_input_size_keeps_the_input_size():
    paddle.seed(2)
    model = DIM(VGG16(input_channels=4))
    rng = np.random.default_rng(3)
    # 97 and 161 are odd at the first pooling, and neither is a multiple of 32
    img = paddle.to_tensor(rng.uniform(-1, 1, (1, 3, 97, 161)).astype('float32'))
    trimap = paddle.to_tensor(rng.choice([0., 128., 255.], (1, 1, 97, 161)).astype('float32'))
    model.eval()
    with paddle.no_grad():
        alpha = model({'img': img, 'trimap': trimap})
    assert alpha.shape == [1, 1, 97, 161]
    values = alpha.numpy()
    assert np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1
    model.train()
    with paddle.no_grad():
        logits = model({'img': img[:, :, :45, :75], 'trimap': trimap[:, :, :45, :75]})
    assert all(v.shape == [1, 1, 45, 75] for v in logits.values())


def test_building_twice_in_one_process():
    first = DIM(VGG16(input_channels=4))
    second = DIM(VGG16(input_channels=4))
    assert list(first.state_dict()) == list(second.state_dict())


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match='stage'):
        DIM(VGG16(input_channels=4), stage=4)
    with pytest.raises(ValueError, match='decoder_input_channels'):
        DIM(VGG16(input_channels=4), decoder_input_channels=256)
    with pytest.raises(KeyError, match='trimap'):
        DIM(_TinyEncoder(), decoder_input_channels=8)({'img': paddle.zeros([1, 3, 32, 32])})


def test_training_reduces_the_loss_on_one_batch():
    paddle.seed(4)
    model = DIM(VGG16(input_channels=4), stage=3)
    model.train()
    batch = _small_batch(64, seed=5)
    opt = paddle.optimizer.Adam(learning_rate=1e-4, parameters=model.parameters())
    totals = []
    for _ in range(4):
        losses = model.loss(model(batch), batch)
        for key in ('alpha_raw', 'comp', 'alpha_pred', 'all'):
            assert np.isfinite(float(losses[key])), key
        totals.append(float(losses['all']))
        losses['all'].backward()
        opt.step()
        opt.clear_grad()
    assert totals[-1] < totals[0]


def test_whole_model_pretrained_loads_strictly(tmp_path):
    paddle.seed(6)
    source = DIM(VGG16(input_channels=4))
    path = str(tmp_path / 'dim.pdparams')
    paddle.save(source.state_dict(), path)
    restored = DIM(VGG16(input_channels=4), pretrained=path)
    load_declared_pretrained(restored)  # what build_model does after construction
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[key].numpy(), value.numpy())
    # a checkpoint of another layout must not load silently
    paddle.save({'backbone._conv_6.weight': np.zeros((1,), 'float32')}, path)
    with pytest.raises(ValueError):
        load_declared_pretrained(DIM(VGG16(input_channels=4), pretrained=path))

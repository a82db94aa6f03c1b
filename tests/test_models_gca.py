"""GCA (ResGuidedCxtAtten encoder + guided contextual attention): state-dict layout, the
reference's eval output, features and train-mode loss, spectral norm, batch independence,
export and training."""
import json
import os

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from paddlematting.models.backbones.gca_encoder import ResGuidedCxtAtten
from paddlematting.models.gca import GCA
from paddlematting.models.gca_blocks import GuidedCxtAtten, extract_patches
from paddlematting.config import manager
from paddlematting.builders import Built

from conftest import REAL_DATA_ROOT, REF_ATOL, REF_RTOL

MANIFEST = 'manifests/gca_resnet34.json'
EVAL_REF = 'outputs/gca_resnet34_A.npz'
FEATS_REF = 'outputs/gca_resnet34_A_feats.npz'
LOSS_REF = 'outputs/gca_resnet34_loss_A'

# building GCA and making its 25M deterministic weights cost seconds on the shared CPU
_cache = {}


def _build() -> GCA:
    return GCA(ResGuidedCxtAtten(input_channels=4, layers=[3, 4, 4, 2]))


@pytest.fixture
def reference_gca(shared_reference, det_weights):
    """GCA holding the reference recipe's weights, reloaded per test (a train-mode forward
    moves the BN statistics and the spectral-norm vectors). Returns (model, weights, sha)."""
    if 'model' not in _cache:
        weights = det_weights.make_weights(os.path.join(shared_reference, MANIFEST))
        _cache.update(weights=weights, sha=det_weights.weights_sha256(weights), model=_build())
    model = _cache['model']
    missing, unexpected = model.set_state_dict(
        {k: paddle.to_tensor(v) for k, v in _cache['weights'].items()})
    assert not missing and not unexpected
    model.clear_gradients()
    return model, _cache['weights'], _cache['sha']


def _meta_sha(npz):
    return json.loads(str(npz['meta']))['weights_sha256']


def _sn_vectors(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()
            if k.endswith(('.weight_u', '.weight_v'))}


def test_registered_names():
    assert manager.MODELS['GCA'] is GCA
    assert manager.BACKBONES['ResGuidedCxtAtten'] is ResGuidedCxtAtten
    assert GCA.input_names == ('img', 'trimap')


def test_state_dict_matches_manifest(shared_reference):
    with open(os.path.join(shared_reference, MANIFEST)) as f:
        manifest = json.load(f)
    model = _build()
    state = model.state_dict()
    trainable = {name: not p.stop_gradient for name, p in model.named_parameters()}
    got = [{'key': k, 'shape': list(v.shape), 'dtype': str(v.dtype).replace('paddle.', ''),
            'trainable': trainable.get(k, False)} for k, v in state.items()]
    expected = [{k: e[k] for k in ('key', 'shape', 'dtype', 'trainable')} for e in manifest['params']]
    assert got == expected
    assert sum(int(np.prod(v.shape)) for v in state.values()) == manifest['total_params'] == 25290516
    trainable_total = sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)
    assert trainable_total == manifest['trainable_params'] == 25163377
    # each spectral norm permutes the dim the manifest names (1 for transposed convs)
    layers = dict(model.named_sublayers())
    sn_entries = [e for e in manifest['params'] if 'sn_dim' in e]
    assert len(sn_entries) == 70
    for entry in sn_entries:
        layer = layers[entry['key'][:-len('.weight_orig')]]
        assert layer.sn_dim == entry['sn_dim'], entry['key']
        assert (entry['sn_dim'] == 1) == isinstance(layer, paddle.nn.Conv2DTranspose)


def test_eval_matches_reference_and_feature_fingerprints(reference_gca, shared_reference):
    model, weights, sha = reference_gca
    ref = np.load(os.path.join(shared_reference, EVAL_REF))
    feats = np.load(os.path.join(shared_reference, FEATS_REF))
    assert sha == _meta_sha(ref) == _meta_sha(feats), 'det_weights recipe changed'
    model.eval()
    captured = {}
    hooks = [model.encoder.register_forward_post_hook(
                 lambda layer, inp, out: captured.__setitem__('encoder', out)),
             model.encoder.gca.register_forward_post_hook(
                 lambda layer, inp, out: captured.__setitem__('encoder_gca_out', out)),
             model.decoder.gca.register_forward_post_hook(
                 lambda layer, inp, out: captured.__setitem__('decoder_gca_out', out))]
    try:
        with paddle.no_grad():
            alpha = model({'img': paddle.to_tensor(ref['img']),
                           'trimap': paddle.to_tensor(ref['trimap'])})
    finally:
        for hook in hooks:
            hook.remove()
    assert alpha.shape == [1, 1, 256, 320]
    np.testing.assert_allclose(alpha.numpy(), ref['alpha'], atol=REF_ATOL, rtol=REF_RTOL)

    bottleneck, mid = captured['encoder']
    tensors = {'backbone_feat0': bottleneck, 'image_fea': mid['image_fea'],
               'encoder_gca_out': captured['encoder_gca_out'],
               'decoder_gca_out': captured['decoder_gca_out']}
    tensors.update({f'shortcut{i}': t for i, t in enumerate(mid['shortcut'])})
    for name, tensor in tensors.items():
        array = tensor.numpy()
        for stat, value in (('chmean', array.mean(axis=(2, 3))), ('chstd', array.std(axis=(2, 3)))):
            np.testing.assert_allclose(value, feats[f'{name}_{stat}'], atol=REF_ATOL, rtol=REF_RTOL,
                                       err_msg=f'{name}_{stat}')
    # the "unknown" mask is the trimap's foreground at 1/8, exactly
    unknown = mid['unknown'].numpy()
    np.testing.assert_array_equal(unknown, feats['unknown'])
    np.testing.assert_array_equal(unknown, (ref['trimap'][:, :, ::8, ::8] == 255).astype('float32'))
    assert 0 < unknown.mean() < 1
    # eval runs no power iteration: the spectral-norm vectors are the loaded ones
    for key, value in _sn_vectors(model).items():
        np.testing.assert_array_equal(value, weights[key], err_msg=key)


def test_eval_weight_is_weight_orig_over_sigma_from_stored_vectors(reference_gca):
    model, weights, _ = reference_gca
    model.eval()
    checked = 0
    for name, layer in (('encoder.conv2', model.encoder.conv2),
                        ('decoder.layer1.0.conv1', model.decoder.layer1[0].conv1)):
        w = weights[name + '.weight_orig'].astype('float64')
        u, v = weights[name + '.weight_u'], weights[name + '.weight_v']
        # Conv2D weights are [out, in, k, k]; a transposed conv's are [in, out, k, k] and are
        # normed over the output channels (dim 1)
        transposed = isinstance(layer, paddle.nn.Conv2DTranspose)
        mat = (np.moveaxis(w, 1, 0) if transposed else w).reshape(len(u), -1)
        sigma = u.astype('float64') @ mat @ v.astype('float64')
        with paddle.no_grad():
            np.testing.assert_allclose(layer.normalized_weight().numpy(), w / sigma, rtol=1e-5, atol=1e-7)
        checked += 1
    assert checked == 2


def test_train_loss_gradients_and_power_iteration_match_reference(reference_gca, shared_reference):
    model, weights, sha = reference_gca
    ref = np.load(os.path.join(shared_reference, LOSS_REF + '.npz'))
    with open(os.path.join(shared_reference, LOSS_REF + '.json')) as f:
        ref_json = json.load(f)
    assert sha == ref_json['meta']['weights_sha256']
    model.train()
    batch = {k: paddle.to_tensor(ref[k]) for k in ('img', 'alpha', 'trimap', 'fg', 'bg')}
    logits = model(batch)
    assert sorted(logits) == ['alpha_pred']
    losses = model.loss(logits, batch)
    assert sorted(losses) == sorted(ref_json['loss']) == ['all', 'alpha']
    for key, value in ref_json['loss'].items():
        assert float(losses[key]) == pytest.approx(value, rel=1e-4), key
    np.testing.assert_allclose(logits['alpha_pred'].numpy(), ref['logit_alpha_pred'], atol=REF_ATOL)
    losses['all'].backward()

    params = dict(model.named_parameters())
    with_grad = [n for n, p in params.items() if p.grad is not None]
    assert len(with_grad) == ref_json['params_with_grad'] == 222
    # Gradients near the output match to 1e-4 of their max. Deeper ones are ill-conditioned in
    # train mode with these random weights: moving the input image by one float32 ulp
    # (x * (1 + 1e-7)) moves this implementation's own deep gradients by up to 1.6e-2 of their
    # max (ReLU kinks and batch statistics), so GEMM-order differences between CPUs cannot give
    # 1e-4 there. They are held to 2e-2 of the max and a cosine of 0.999 (measured: <= 6.8e-3).
    well_conditioned = ('decoder.conv2.weight', 'decoder.conv2.bias', 'encoder.shortcut.0.0.weight_orig')
    for name in ref_json['selected_params']:
        got, want = params[name].grad.numpy(), ref['grad/' + name]
        scale = np.abs(want).max()
        bound = 1e-4 if name in well_conditioned else 2e-2
        assert np.abs(got - want).max() <= bound * scale, name
        cosine = float((got * want).sum() / np.linalg.norm(got) / np.linalg.norm(want))
        assert cosine > 0.999, name

    # one power iteration per train forward, as paddle.nn.utils.spectral_norm does
    state = model.state_dict()
    sn_keys = [k for k in ref.files if k.startswith('sn_after_forward/')]
    assert len(sn_keys) == 140
    for key in sn_keys:
        name = key.split('/', 1)[1]
        np.testing.assert_allclose(state[name].numpy(), ref[key], atol=1e-6, err_msg=name)
        assert np.abs(ref[key] - weights[name]).max() > 0, name  # the reference moved them
    for key in [k for k in ref.files if k.startswith('bn_after_forward/')]:
        name = key.split('/', 1)[1]
        np.testing.assert_allclose(state[name].numpy(), ref[key], atol=1e-5, err_msg=name)


def test_loss_is_the_plain_l1_mean_over_the_whole_image():
    model = GCA.__new__(GCA)  # the loss uses no layer state
    pred = np.array([[[[0.0, 0.5], [1.0, 0.25]]]], 'float32')
    gt = np.array([[[[1.0, 0.5], [0.0, 0.0]]]], 'float32')
    trimap = np.array([[[[0, 128], [255, 128]]]], 'float32')
    losses = GCA.loss(model, {'alpha_pred': paddle.to_tensor(pred)},
                      {'alpha': paddle.to_tensor(gt), 'trimap': paddle.to_tensor(trimap)})
    # (1 + 0 + 1 + 0.25) / 4: known pixels count too
    assert float(losses['alpha']) == pytest.approx(0.5625)
    assert float(losses['all']) == pytest.approx(0.5625)


def _attention_by_convolution(layer, img_feat, alpha_feat, unknown):
    """GuidedCxtAtten written as the paper does it, one sample at a time: the normalised image
    patches are the kernels of a convolution over the image features, and the alpha patches
    the kernels of a transposed convolution over the softmaxed scores."""
    outputs = []
    for n in range(img_feat.shape[0]):
        guide = F.interpolate(layer.guidance_conv(img_feat[n:n + 1]), scale_factor=0.5, mode='nearest')
        mask = F.interpolate(unknown[n:n + 1], scale_factor=0.5, mode='nearest')
        c, h, w = guide.shape[1:]
        frac = mask.mean()
        unknown_scale = paddle.clip(paddle.sqrt(frac / (1 - frac)), 0.1, 10)
        known_scale = paddle.clip(paddle.sqrt((1 - frac) / frac), 0.1, 10)
        patches = extract_patches(guide, 3, 1)[0].T.reshape([h * w, c, 3, 3])
        norms = paddle.sqrt((patches ** 2).sum(axis=[1, 2, 3], keepdim=True))
        similarity = F.conv2d(F.pad(guide, [1, 1, 1, 1], mode='reflect'),
                              patches / paddle.clip(norms, min=1e-4))  # [1, hw, h, w]
        mask_ps = extract_patches(mask, 3, 1)[0].mean(axis=0).reshape([1, h * w, 1, 1])
        positive = (mask_ps > 0).astype(similarity.dtype)
        self_mask = paddle.eye(h * w, dtype=similarity.dtype).reshape([1, h * w, h, w])
        scores = F.softmax(similarity * (unknown_scale * positive + known_scale * (1 - positive))
                           - 1e4 * self_mask * mask_ps, axis=1)
        alpha_ps = extract_patches(alpha_feat[n:n + 1], 4, 2)[0].T.reshape(
            [h * w, alpha_feat.shape[1], 4, 4])
        outputs.append(F.conv2d_transpose(scores, alpha_ps, stride=2, padding=1) / 4.0)
    return layer.out_conv(paddle.concat(outputs, axis=0)) + alpha_feat


def test_attention_equals_per_sample_convolution_form_with_gradients():
    """float64, batch 2 with different masks: forward and gradients agree with the per-sample
    convolution form, so each sample attends only to its own patches and scales."""
    paddle.seed(3)
    layer = GuidedCxtAtten(8, 6)
    layer.to(dtype='float64')
    layer.eval()
    paddle.nn.initializer.Constant(0.7)(layer.out_conv[1].weight)  # make the attention visible
    rng = np.random.default_rng(3)
    img = rng.standard_normal((2, 6, 8, 12))
    alpha = rng.standard_normal((2, 8, 8, 12))
    unknown = np.stack([rng.random((1, 8, 12)) > 0.7, rng.random((1, 8, 12)) > 0.2]).astype('float64')
    projection = paddle.to_tensor(rng.standard_normal(alpha.shape))
    results = []
    for fn in (layer, lambda *a: _attention_by_convolution(layer, *a)):
        layer.clear_gradients()
        img_t = paddle.to_tensor(img, stop_gradient=False)
        alpha_t = paddle.to_tensor(alpha, stop_gradient=False)
        out = fn(img_t, alpha_t, paddle.to_tensor(unknown))
        (out * projection).sum().backward()
        results.append([out.numpy(), img_t.grad.numpy(), alpha_t.grad.numpy(),
                        layer.guidance_conv.weight.grad.numpy()])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)
    # the two samples' masks differ, so sharing sample 0's scales would have shown
    assert abs(unknown[0].mean() - unknown[1].mean()) > 0.3


def test_each_sample_equals_its_single_sample_output(reference_gca, det_weights):
    model, _, _ = reference_gca
    model.eval()
    scene = det_weights.make_scene(2, 64, 96, seed=7)
    img, trimap = scene['img'], scene['trimap']
    assert not np.array_equal(trimap[0], trimap[1])
    with paddle.no_grad():
        both = model({'img': paddle.to_tensor(img), 'trimap': paddle.to_tensor(trimap)}).numpy()
        alone = [model({'img': paddle.to_tensor(img[i:i + 1]),
                        'trimap': paddle.to_tensor(trimap[i:i + 1])}).numpy() for i in range(2)]
    for i in range(2):
        np.testing.assert_allclose(both[i:i + 1], alone[i], atol=1e-5, rtol=0)
    assert np.abs(alone[0] - alone[1]).max() > 1e-2  # two different scenes
    assert both.shape == (2, 1, 64, 96) and both.min() >= 0 and both.max() <= 1


def test_smallest_input_runs(reference_gca):
    model, _, _ = reference_gca
    model.eval()
    with paddle.no_grad():
        alpha = model({'img': paddle.zeros([1, 3, 32, 32]),
                       'trimap': paddle.full([1, 1, 32, 32], 255.0)})
    assert alpha.shape == [1, 1, 32, 32] and np.isfinite(alpha.numpy()).all()


@pytest.mark.parametrize('size', [(64, 80), (48, 64), (0, 64)])
def test_sizes_not_multiple_of_32_are_refused_clearly(size):
    model = _cache.get('model') or _build()
    model.eval()
    feed = {'img': paddle.zeros([1, 3, *size]), 'trimap': paddle.zeros([1, 1, *size])}
    with pytest.raises(ValueError, match='multiples of 32'):
        model(feed)


def test_trimap_is_required():
    with pytest.raises(KeyError, match='trimap'):
        (_cache.get('model') or _build())({'img': paddle.zeros([1, 3, 32, 32])})


def test_encoder_refuses_other_input_channels():
    with pytest.raises(ValueError, match='input_channels'):
        ResGuidedCxtAtten(input_channels=6, layers=[3, 4, 4, 2])


@pytest.mark.slow
def test_static_and_onnx_exports_equal_dygraph(reference_gca, det_weights, tmp_path):
    from paddlematting.inference import Predictor
    from paddlematting.inference.export import ExportOptions, export_model
    import onnxruntime
    model, weights, _ = reference_gca
    model.eval()
    folder = export_model(model, str(tmp_path / 'gca'),
                          [{'type': 'LoadImages'}, {'type': 'Normalize'}],
                          # the parity of the files is tested here, not the (timed) engine choice
                          ExportOptions(onnx=True, choose_engine=False))
    # exporting neither ran a power iteration nor changed the stored vectors
    for key, value in _sn_vectors(model).items():
        np.testing.assert_array_equal(value, weights[key], err_msg=key)
    predictor = Predictor(folder, device='cpu', threads=1)
    assert predictor.needs_trimap
    session = onnxruntime.InferenceSession(os.path.join(folder, 'model.onnx'))
    for n, h, w, seed in ((2, 64, 96, 1), (1, 96, 64, 2)):
        scene = det_weights.make_scene(n, h, w, seed=seed)
        with paddle.no_grad():
            expected = model({'img': paddle.to_tensor(scene['img']),
                              'trimap': paddle.to_tensor(scene['trimap'])}).numpy()
        got = predictor(scene['img'], scene['trimap'])
        assert got.shape == expected.shape == (n, 1, h, w)
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
        onnx_out = session.run(None, {'img': scene['img'], 'trimap': scene['trimap']})[0]
        np.testing.assert_allclose(onnx_out, expected, atol=1e-4, rtol=0)


def test_config_builds_the_manifest_layout_and_paper_recipe(shared_reference):
    from paddlematting import Config
    from conftest import config_for
    with open(os.path.join(shared_reference, MANIFEST)) as f:
        manifest = json.load(f)
    cfg = Built(Config(config_for('gca_resnet34')))
    assert type(cfg.model) is GCA and type(cfg.model.encoder) is ResGuidedCxtAtten
    assert [(k, list(v.shape)) for k, v in cfg.model.state_dict().items()] == \
        [(e['key'], e['shape']) for e in manifest['params']]
    assert isinstance(cfg.optimizer, paddle.optimizer.Adam)
    assert cfg.optimizer._beta1 == 0.5
    val_types = [t['type'] for t in cfg.config.val_dataset_config['transforms']]
    assert {'type': 'ResizeToIntMult', 'mult_int': 32} in cfg.config.val_dataset_config['transforms']
    assert val_types[-1] == 'Normalize' and cfg.config.val_dataset_config['get_trimap'] is True


def test_training_steps_on_the_shipped_data_reduce_the_loss(tmp_path):
    from paddlematting.datasets.collate import collate_samples
    from paddlematting.datasets.matting_dataset import MattingDataset
    from paddlematting.datasets.tiny_sets import build_training_set
    from paddlematting.transforms import LoadImages, Normalize, Resize

    build_training_set(str(tmp_path), REAL_DATA_ROOT, long_side=96, max_photos=1)
    np.random.seed(0)
    dataset = MattingDataset(str(tmp_path), [LoadImages(), Resize([64, 64]), Normalize()],
                             mode='train', train_file='train.txt', get_trimap=True)
    batch = collate_samples([dataset[0], dataset[1]])
    batch = {k: paddle.to_tensor(batch[k]) for k in ('img', 'alpha', 'trimap')}
    paddle.seed(0)
    model = _build()
    model.train()
    before = _sn_vectors(model)
    optimizer = paddle.optimizer.Adam(4e-4, beta1=0.5, parameters=model.parameters())
    totals = []
    for _ in range(5):
        losses = model.loss(model(batch), batch)  # the trainer's calls
        totals.append(float(losses['all']))
        losses['all'].backward()
        optimizer.step()
        optimizer.clear_grad()
    assert all(np.isfinite(totals))
    assert totals[-1] < totals[0]
    after = _sn_vectors(model)
    assert any(np.abs(after[k] - before[k]).max() > 0 for k in before)  # power iterations ran

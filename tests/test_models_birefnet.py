"""BiRefNet (Swin-T lite, Swin-L general) against the original PyTorch code's reference:
state-dict layout, case A mask/logit and every intermediate feature, loading the published
formats (.pth, .safetensors), batch independence, and reference-free invariants."""
import json
import os

import numpy as np
import paddle
import pytest
from safetensors.numpy import save_file

from conftest import REAL_DATA_ROOT, SHARED_REFERENCE, assert_matches_manifest, config_for, load_manifest
from torch_pth import save_pth
from paddlematting import Config
from paddlematting.builders import build_model
from paddlematting.models.backbones.swin import SwinV1_L, SwinV1_T, relative_position_index
from paddlematting.models.birefnet import BiRefNet
from paddlematting.models.birefnet_blocks import image2patches, resize_as
from paddlematting.models.losses.birefnet_loss import (BiRefNetLossOptions, birefnet_loss, gdt_term,
                                                       laplacian5, pixel_terms)
from paddlematting.utils.torch_layout import linear_weight_keys, torch_state_to_paddle

# the reference README's float32 tolerances against the original
MASK_ATOL, LOGIT_ATOL = 1e-5, 2e-5
FEAT_RTOL, FEAT_ATOL = 1e-4, 1e-5
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
BACKBONES = {'birefnet_swin_t': SwinV1_T, 'birefnet_swin_l': SwinV1_L}
# Linear weights of the original (qkv, proj, fc1, fc2, PatchMerging reduction), per the README
LINEAR_COUNTS = {'birefnet_swin_t': 51, 'birefnet_swin_l': 99}


def _reference(name, suffix=''):
    return np.load(os.path.join(SHARED_REFERENCE, 'outputs', f'{name}_A{suffix}.npz'))


def _model_with_reference_weights(name, dw):
    """BiRefNet with det_weights' torch-layout weights converted as the loader converts them;
    asserts every key loaded and the checksum is the reference's."""
    torch_state = dw.make_weights(load_manifest(name))
    assert dw.weights_sha256(torch_state) == json.loads(str(_reference(name)['meta']))['weights_sha256']
    model = BiRefNet(BACKBONES[name]())
    state = torch_state_to_paddle(torch_state, model)
    missing, unexpected = model.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    assert not missing and not unexpected
    model.eval()
    return model


def _imagenet_input(n, h, w, seed, dw):
    """The case-A style input: make_scene's image in [0, 1], ImageNet-normalised (float32)."""
    img01 = dw.make_scene(n, h, w, seed=seed)['img'] * np.float32(0.5) + np.float32(0.5)
    return ((img01 - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32)


_RUNS = {}


def _case_a(name, dw):
    """Case A's logit and every captured feature (name -> list of outputs per call), once."""
    if name in _RUNS:
        return _RUNS[name]
    model = _model_with_reference_weights(name, dw)
    captured = {}

    def capture(layer_name):
        return lambda layer, inputs, output: captured.setdefault(layer_name, []).append(
            output if isinstance(output, list) else output.numpy())
    for layer_name, layer in model.named_sublayers():
        if layer_name == 'bb' or layer_name.startswith(('decoder.', 'squeeze_module')):
            layer.register_forward_post_hook(capture(layer_name))
    img = paddle.to_tensor(_reference(name)['image'])
    with paddle.no_grad():
        mask = model({'img': img}).numpy()
        captured['enc'] = [[f.numpy() for f in model.encode(img)]]
    logit = captured['decoder.conv_out1'][0]
    captured['bb'] = [[f.numpy() for f in call] for call in captured['bb'][:2]]
    _RUNS[name] = logit, mask, captured
    return _RUNS[name]


def _feature(captured, key):
    """The array behind a ``_A_feats.npz`` name (``bb.call1.out2``, ``enc.x4``, a module)."""
    if key.startswith('bb.call'):
        return captured['bb'][int(key[len('bb.call')])][int(key[-1])]
    if key.startswith('enc.x'):
        return captured['enc'][0][int(key[-1]) - 1]
    return captured[key][0]


def _check_case_a(name, dw):
    ref, feats = _reference(name), _reference(name, '_feats')
    logit, mask, captured = _case_a(name, dw)
    np.testing.assert_allclose(logit, ref['logit'], rtol=0, atol=LOGIT_ATOL)
    np.testing.assert_allclose(mask, ref['mask'], rtol=0, atol=MASK_ATOL)
    keys = [k[:-len('_chmean')] for k in feats.files if k.endswith('_chmean')]
    assert len(keys) == 77
    for key in keys:
        a = _feature(captured, key)
        np.testing.assert_allclose(a.mean(axis=(2, 3)), feats[key + '_chmean'], rtol=FEAT_RTOL,
                                   atol=FEAT_ATOL, err_msg=key)
        np.testing.assert_allclose(a.std(axis=(2, 3)), feats[key + '_chstd'], rtol=FEAT_RTOL,
                                   atol=FEAT_ATOL, err_msg=key)
        if key in feats.files:  # full arrays: the offset / modulator / gradient attention maps
            np.testing.assert_allclose(a, feats[key], rtol=FEAT_RTOL, atol=FEAT_ATOL, err_msg=key)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_state_dict_layout_is_the_published_one(name):
    """Keys in order, shapes (Linear transposed), dtypes (int64 relative_position_index),
    trainable flags and counts of the original's state_dict()."""
    model = BiRefNet(BACKBONES[name]())
    linear = linear_weight_keys(model)
    assert len(linear) == LINEAR_COUNTS[name]
    assert all(k.split('.')[-2] in ('qkv', 'proj', 'fc1', 'fc2', 'reduction') for k in linear)
    assert_matches_manifest(model.state_dict(), load_manifest(name), model)


@pytest.mark.slow
def test_lite_case_a_matches_with_every_feature(det_weights):
    _check_case_a('birefnet_swin_t', det_weights)


@pytest.mark.slow
def test_general_case_a_matches_with_every_feature(det_weights):
    _check_case_a('birefnet_swin_l', det_weights)


def test_the_offsets_are_large_enough_to_test_the_layout(det_weights):
    """Case A's offsets reach several pixels (the README's 4 px), so a swapped Δy/Δx or a
    transposed tap order would move the sampled values far beyond the tolerance."""
    _, _, captured = _case_a('birefnet_swin_t', det_weights)
    largest = max(np.abs(v[0]).max() for k, v in captured.items() if k.endswith('offset_conv'))
    assert largest > 2.0


def test_pth_and_safetensors_give_the_same_model(det_weights, tmp_path):
    """The published formats (the GitHub .pth with a DataParallel prefix, the HF
    model.safetensors) load through build_model into the same weights, as the reference's."""
    torch_state = det_weights.make_weights(load_manifest('birefnet_swin_t'))
    save_file(torch_state, str(tmp_path / 'model.safetensors'))
    save_pth(str(tmp_path / 'model.pth'), {'module.' + k: v for k, v in torch_state.items()})
    cfg = config_for('birefnet_swin_t')
    states = [{k: v.numpy() for k, v in build_model(Config(cfg), weights=str(tmp_path / f)).state_dict().items()}
              for f in ('model.safetensors', 'model.pth')]
    assert list(states[0]) == list(states[1])
    for key in states[0]:
        np.testing.assert_array_equal(states[0][key], states[1][key], err_msg=key)
    qkv = 'bb.layers.0.blocks.0.attn.qkv.weight'
    np.testing.assert_array_equal(states[0][qkv], torch_state[qkv].T)
    index = 'bb.layers.2.blocks.1.attn.relative_position_index'
    assert states[0][index].dtype == np.int64
    np.testing.assert_array_equal(states[0][index], relative_position_index(7))


def test_a_file_without_the_index_buffers_gets_their_exact_values():
    model = BiRefNet(SwinV1_T())
    state = {k: np.zeros(1) for k in model.state_dict() if not k.endswith('relative_position_index')}
    filled = model.map_published_state(state)
    index_keys = [k for k in filled if k.endswith('relative_position_index')]
    assert len(index_keys) == 12
    np.testing.assert_array_equal(filled[index_keys[0]], relative_position_index(7))
    assert relative_position_index(7).max() == 13 * 13 - 1


def test_batch_of_two_non_square_equals_each_alone(det_weights):
    model = _model_with_reference_weights('birefnet_swin_t', det_weights)
    img = _imagenet_input(2, 64, 96, 7, det_weights)
    with paddle.no_grad():
        both = model({'img': paddle.to_tensor(img)}).numpy()
        alone = [model({'img': paddle.to_tensor(img[i:i + 1])}).numpy() for i in range(2)]
    assert both.shape == (2, 1, 64, 96)
    np.testing.assert_allclose(both, np.concatenate(alone), rtol=0, atol=MASK_ATOL)
    assert np.abs(both[0] - both[1]).max() > 1e-3  # the two scenes differ


def test_image2patches_channel_order():
    """Channel c·hg·wg + i·wg + j holds tile (i, j) of channel c."""
    x = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)
    tiles = image2patches(paddle.to_tensor(x), 2, 3).numpy()
    assert tiles.shape == (2, 12, 2, 3)
    np.testing.assert_array_equal(tiles[:, 1 * 4 + 1 * 2 + 0], x[:, 1, 2:4, 0:3])
    np.testing.assert_array_equal(tiles[:, 2 * 4 + 0 * 2 + 1], x[:, 2, 0:2, 3:6])


def test_sizes_not_multiple_of_32_are_refused_in_one_line():
    model = BiRefNet(SwinV1_T())
    model.eval()
    with pytest.raises(ValueError, match='multiples of 32'):
        model({'img': paddle.zeros([1, 3, 64, 80])})


# ---- the training loss ---------------------------------------------------------------
# the README's comparison tolerances for the loss case (SSIM: float32 cancellation)
LOSS_RTOL, SSIM_RTOL = 1e-5, 2e-4
LEVELS = ('m4', 'm3', 'm2', 'logit')


def _loss_case():
    ref = np.load(os.path.join(SHARED_REFERENCE, 'outputs', 'birefnet_loss_A.npz'))
    with open(os.path.join(SHARED_REFERENCE, 'outputs', 'birefnet_loss_A.json')) as f:
        return ref, json.load(f)


def _loss_outputs(ref):
    """The reference's four outputs and gradient predictions, with the labels computed by
    our code (Laplacian of the image times the resized side logits)."""
    t = {k: paddle.to_tensor(ref[k]) for k in ref.files}
    gradient = laplacian5(paddle.mean(t['image'], axis=1, keepdim=True))
    sides = [t['pred_m4'], t['pred_m3'], t['pred_m2']]
    return {'logits': sides + [t['pred_logit']],
            'gdt_pred': [t['gdt_pred_4'], t['gdt_pred_3'], t['gdt_pred_2']],
            'gdt_label': [gradient * resize_as(m, gradient.shape[-2:]) for m in sides]}, t


def test_loss_terms_match_the_loss_case():
    ref, case = _loss_case()
    outputs, t = _loss_outputs(ref)
    np.testing.assert_allclose(laplacian5(paddle.mean(t['image'], axis=1, keepdim=True)).numpy(),
                               ref['gdt_gt'], rtol=0, atol=1e-6)
    for k, label in zip((4, 3, 2), outputs['gdt_label']):
        np.testing.assert_allclose(label.numpy(), ref[f'gdt_label_{k}'], rtol=0, atol=1e-6)
    for level, logit in zip(LEVELS, outputs['logits']):
        expected = case['terms_per_level_float64'][level]
        half, one_minus = pixel_terms(logit, t['gt'], 'half'), pixel_terms(logit, t['gt'], 'one_minus')
        for term in ('bce', 'iou', 'mae'):
            np.testing.assert_allclose(float(half[term]), expected[term], rtol=LOSS_RTOL, err_msg=level)
        np.testing.assert_allclose(float(half['ssim']), expected['ssim'], rtol=SSIM_RTOL)
        np.testing.assert_allclose(float(one_minus['ssim']), expected['ssim_1minus'], rtol=SSIM_RTOL)
    for k, pred, label in zip((4, 3, 2), outputs['gdt_pred'], outputs['gdt_label']):
        np.testing.assert_allclose(float(gdt_term(pred, label)), case['gdt_float64'][f'gdt_{k}'],
                                   rtol=LOSS_RTOL)


@pytest.mark.parametrize('preset, reference', [('general', 'General_HEAD'), ('dis5k', 'DIS5K_HEAD'),
                                               ('general_2024', 'published_2024_general')])
def test_loss_totals_of_each_preset(preset, reference):
    ref, case = _loss_case()
    outputs, t = _loss_outputs(ref)
    losses = birefnet_loss(outputs, t['gt'], BiRefNetLossOptions.from_config({'preset': preset}))
    totals = case['totals_float64'][reference]
    np.testing.assert_allclose(float(losses['pix']), totals['loss_pix'], rtol=SSIM_RTOL)
    np.testing.assert_allclose(float(losses['gdt']), totals['loss_gdt'], rtol=LOSS_RTOL)
    np.testing.assert_allclose(float(losses['all']), totals['loss'], rtol=SSIM_RTOL)
    assert ('mae' in losses) == (preset == 'general')


def test_loss_options_refuse_unknown_keys_and_presets():
    with pytest.raises(ValueError, match='preset'):
        BiRefNetLossOptions.from_config({'preset': 'General'})
    with pytest.raises(ValueError, match='unknown keys'):
        BiRefNetLossOptions.from_config({'bce_weight': 1.0})
    assert BiRefNetLossOptions.from_config({'preset': 'dis5k', 'mae': 5.0}).mae == 5.0


# ---- training on the DIS5K layout ------------------------------------------------------
def _dis5k_copy_of_the_shipped_images(root, names=('GT05', 'GT11')):
    """A DIS5K-layout set (DIS-TR/im/*.jpg, DIS-TR/gt/*.png) made of the shipped images."""
    import cv2
    for folder in ('im', 'gt'):
        os.makedirs(os.path.join(root, 'DIS-TR', folder))
    for name in names:
        fg = cv2.imread(os.path.join(REAL_DATA_ROOT, 'val', 'fg', name + '.png'))
        cv2.imwrite(os.path.join(root, 'DIS-TR', 'im', name + '.jpg'), fg)
        alpha = cv2.imread(os.path.join(REAL_DATA_ROOT, 'val', 'alpha', name + '.png'), 0)
        cv2.imwrite(os.path.join(root, 'DIS-TR', 'gt', name + '.png'), alpha)
    return str(root)


def _train_transforms(size):
    from paddlematting.transforms import LoadImages, Normalize, RandomHorizontalFlip, Resize
    return [LoadImages(), Resize(target_size=(size, size)), RandomHorizontalFlip(prob=0.0),
            Normalize(mean=IMAGENET_MEAN.ravel().tolist(), std=IMAGENET_STD.ravel().tolist())]


@pytest.mark.slow
def test_training_steps_lower_the_loss_on_the_shipped_images(tmp_path):
    """A few AdamW steps of the lite model on one DIS5K-layout batch (64², batch 2) lower the
    General loss; every term is finite and the gradient reaches the backbone."""
    from paddlematting.datasets import DIS5K, collate_samples
    paddle.seed(0)
    data = DIS5K(_dis5k_copy_of_the_shipped_images(tmp_path), _train_transforms(64))
    batch = collate_samples([data[0], data[1]])
    batch = {k: paddle.to_tensor(batch[k]) for k in ('img', 'alpha')}
    model = BiRefNet(SwinV1_T())
    model.train()
    optimizer = paddle.optimizer.AdamW(1e-4, parameters=model.parameters(), weight_decay=1e-2)
    totals = []
    for step in range(4):
        losses = model.loss(model(batch), batch)
        assert all(np.isfinite(float(v)) for v in losses.values())
        losses['all'].backward()
        if step == 0:
            assert float(model.bb.patch_embed.proj.weight.grad.abs().max()) > 0
        optimizer.step()
        optimizer.clear_grad()
        totals.append(float(losses['all']))
    assert totals[-1] < totals[0], totals
    assert set(losses) == {'bce', 'iou', 'ssim', 'mae', 'pix', 'gdt', 'all'}


def test_dis5k_samples_and_a_missing_mask(tmp_path):
    from paddlematting.datasets import DIS5K
    root = _dis5k_copy_of_the_shipped_images(tmp_path / 'ok')
    val = DIS5K(root, _train_transforms(32), mode='val', sets=['DIS-TR'])
    sample = val[0]
    assert sample['img'].shape == (3, 32, 32) and sample['alpha'].shape == (1, 32, 32)
    assert sample['img_name'] == os.path.join('DIS-TR', 'im', 'GT05.jpg')
    assert 0.0 <= sample['alpha'].min() and sample['alpha'].max() <= 1.0
    os.remove(os.path.join(root, 'DIS-TR', 'gt', 'GT11.png'))
    with pytest.raises(FileNotFoundError, match='no mask for .*GT11.jpg'):
        DIS5K(root, _train_transforms(32), sets=['DIS-TR'])


# ---- preprocessing and output as the original ---------------------------------------
def _lite_with_constant_logit(value):
    """The lite config's model whose final 1x1 conv outputs ``value`` everywhere."""
    model = build_model(Config(config_for('birefnet_swin_t')))
    conv = model.decoder.conv_out1[0]
    conv.weight.set_value(np.zeros(conv.weight.shape, np.float32))
    conv.bias.set_value(np.full(conv.bias.shape, value, np.float32))
    model.eval()
    return model


def _val_transforms(size):
    """The lite config's val transforms, its 1024² resize made ``size``² for speed."""
    from paddlematting.builders import build_val_transforms
    from paddlematting.transforms import Normalize, Resize
    transforms = build_val_transforms(Config(config_for('birefnet_swin_t')))
    resize, normalize = transforms[1], transforms[2]
    assert isinstance(resize, Resize) and resize.target_size == [1024, 1024]
    assert isinstance(normalize, Normalize)
    resize.target_size = [size, size]
    return transforms


def test_a_low_confidence_mask_stays_low(rng):
    """No min-max stretch: a model sure of nothing (logit −3, mask 0.047 everywhere) gives
    a matte of 0.047·255 ≈ 12 everywhere, at the photo's own size."""
    from paddlematting.predict.images import predict_image
    image = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    alpha = predict_image(_lite_with_constant_logit(-3.0), image, transforms=_val_transforms(64)).alpha
    assert alpha.shape == (50, 70)
    assert alpha.min() == alpha.max() == round(255 / (1 + np.exp(3.0)))


def test_the_mask_is_resized_back_bilinearly(det_weights):
    """predict_image's matte is the model's mask at 64² resized (bilinear) to the photo."""
    import cv2
    from paddlematting.predict.images import predict_image
    model = _model_with_reference_weights('birefnet_swin_t', det_weights)
    scene = det_weights.make_scene(1, 48, 80, seed=3)['img'][0].transpose(1, 2, 0)
    image = np.clip(np.round((scene * 0.5 + 0.5) * 255), 0, 255).astype(np.uint8)
    transforms = _val_transforms(64)
    alpha = predict_image(model, image, transforms=transforms).alpha
    resized = cv2.resize(image, (64, 64), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    x = ((resized.transpose(2, 0, 1)[None] - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32)
    with paddle.no_grad():
        mask = model({'img': paddle.to_tensor(x)}).numpy()[0, 0]
    expected = cv2.resize(mask, (80, 48), interpolation=cv2.INTER_LINEAR)
    assert alpha.shape == (48, 80)
    assert np.abs(alpha.astype(np.float32) - expected * 255).max() <= 1.0
    assert alpha.max() - alpha.min() > 10


# ---- export ---------------------------------------------------------------------------
@pytest.mark.slow
def test_the_export_agrees_with_dygraph(det_weights, tmp_path):
    """Paddle Inference and ONNX Runtime (paddle2onnx converts the deformable conv to ONNX
    DeformConv, opset 19) run the exported lite model (traced at the transforms' 64x96
    Resize, batch dynamic) as dygraph does, for a batch of two."""
    import onnxruntime as ort
    from paddlematting.inference import ExportOptions, Predictor, export_model
    model = _model_with_reference_weights('birefnet_swin_t', det_weights)
    transforms = [{'type': 'LoadImages'}, {'type': 'Resize', 'target_size': [96, 64]},
                  {'type': 'Normalize', 'mean': IMAGENET_MEAN.ravel().tolist(),
                   'std': IMAGENET_STD.ravel().tolist()}]
    folder = export_model(model, str(tmp_path / 'export'), transforms,
                          ExportOptions(model_type='BiRefNet', onnx=True, choose_engine=False))
    img = _imagenet_input(2, 64, 96, 5, det_weights)
    with paddle.no_grad():
        expected = model({'img': paddle.to_tensor(img)}).numpy()
    exported = Predictor(folder, device='cpu')(img)
    assert exported.shape == (2, 1, 64, 96)
    np.testing.assert_allclose(exported, expected, rtol=0, atol=1e-4)
    session = ort.InferenceSession(os.path.join(folder, 'model.onnx'),
                                   providers=['CPUExecutionProvider'])
    np.testing.assert_allclose(session.run(None, {'img': img})[0], expected, rtol=0, atol=1e-4)


def test_an_export_without_a_fixed_size_is_refused_in_one_line():
    from paddlematting.inference.export import fixed_input_shape
    assert fixed_input_shape([{'type': 'Resize', 'target_size': [96, 64]}], None, 'BiRefNet') == [None, 3, 64, 96]
    assert fixed_input_shape([], [1, 3, 32, 64], 'BiRefNet') == [1, 3, 32, 64]
    with pytest.raises(ValueError, match='BiRefNet is exported at one input size.*--input_shape'):
        fixed_input_shape([{'type': 'LoadImages'}], None, 'BiRefNet')

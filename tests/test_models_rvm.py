"""RVM + MobileNetV3-Large (os16): state-dict layout, the two-frame reference with the state
carried (dygraph, Paddle Inference, ONNX), reset, batch independence and state handling."""
import json
import os

import numpy as np
import paddle
import pytest

from paddlematting import Config
from paddlematting.pipeline.runner import dygraph_runner
from paddlematting.inference import ExportOptions, Predictor, export_model, load_deploy_config
from paddlematting.inference.engines import ENGINES
from paddlematting.models import RVM
from paddlematting.models.backbones import MobileNetV3_large_x1_0_os16
from paddlematting.config import manager
from paddlematting.builders import Built

from conftest import REF_ATOL, REF_RTOL, config_for

MANIFEST = 'manifests/rvm_mobilenetv3.json'
OUTPUTS = 'outputs/rvm_mobilenetv3_A.npz'
FEATS = 'outputs/rvm_mobilenetv3_A_feats.npz'
CONFIG = config_for('rvm_mobilenetv3')
KEYS = ('alpha', 'fg', 'r1', 'r2', 'r3', 'r4')
# the exported program against dygraph (same weights, same CPU): only kernel choice differs
EXPORT_ATOL = 1e-4


def build_rvm(**kwargs):
    backbone = MobileNetV3_large_x1_0_os16(out_index=[0, 2, 5], return_last_conv=True)
    return RVM(backbone, refiner='deep_guided_filter', downsample_ratio=0.25, **kwargs)


def _manifest(ref_dir):
    with open(os.path.join(ref_dir, MANIFEST)) as f:
        return json.load(f)


_MODELS = {}


def _reference_model(ref_dir, dw):
    """RVM in eval mode with det_weights' weights (built once); asserts every key loaded and
    the checksum of the reference."""
    if ref_dir not in _MODELS:
        weights = dw.make_weights(_manifest(ref_dir))
        ref = np.load(os.path.join(ref_dir, OUTPUTS))
        assert dw.weights_sha256(weights) == json.loads(str(ref['meta']))['weights_sha256']
        model = build_rvm()
        missing, unexpected = model.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
        assert not missing and not unexpected
        model.eval()
        _MODELS[ref_dir] = model
    model = _MODELS[ref_dir]
    model.reset()
    return model


def _frames(ref_dir):
    ref = np.load(os.path.join(ref_dir, OUTPUTS))
    return [ref['img_f0'], ref['img_f1']]


def _run_frames(model, frames, hooks=False):
    """Feed frames in order (state carried by the model); returns per-frame numpy dicts, and
    with ``hooks`` the backbone features and LR-ASPP output per frame."""
    caught, handles = [], []
    if hooks:
        handles = [model.backbone.register_forward_post_hook(
                       lambda layer, inp, out: caught.append([t.numpy() for t in out])),
                   model.aspp.register_forward_post_hook(
                       lambda layer, inp, out: caught[-1].append(out.numpy()))]
    results = []
    try:
        with paddle.no_grad():
            for img in frames:
                out = model({'img': paddle.to_tensor(img)})
                results.append({k: out[k].numpy() for k in KEYS})
    finally:
        for h in handles:
            h.remove()
    return (results, caught) if hooks else results


def test_state_dict_layout_matches_manifest(shared_reference):
    manifest = _manifest(shared_reference)
    model = build_rvm()
    state = model.state_dict()
    assert [(k, list(v.shape)) for k, v in state.items()] == \
        [(e['key'], list(e['shape'])) for e in manifest['params']]
    assert len(state) == manifest['num_entries'] == 326
    assert sum(int(np.prod(v.shape)) for v in state.values()) == manifest['total_params']
    # running statistics are the only non-trainable entries
    params = dict(model.named_parameters())
    trainable = {k for k, p in params.items() if not p.stop_gradient}
    assert trainable == {e['key'] for e in manifest['params'] if e['trainable']}
    assert sum(int(np.prod(params[k].shape)) for k in trainable) == manifest['trainable_params']
    # the box filter is a learned depthwise conv, initialised to a 3x3 mean
    np.testing.assert_allclose(state['refiner.box_filter.weight'].numpy(), 1 / 9, rtol=1e-6)
    assert manager.MODELS['RVM'] is RVM
    assert manager.BACKBONES['MobileNetV3_large_x1_0_os16'] is MobileNetV3_large_x1_0_os16
    assert RVM.recurrent and not RVM.trainable and RVM.input_names == ('img',)
    assert model.backbone.feat_channels == [16, 24, 40, 960]
    assert model.state_channels == [16, 20, 40, 64]


def test_two_frames_with_state_match_reference(shared_reference, det_weights):
    model = _reference_model(shared_reference, det_weights)
    ref = np.load(os.path.join(shared_reference, OUTPUTS))
    feats = np.load(os.path.join(shared_reference, FEATS))
    results, caught = _run_frames(model, _frames(shared_reference), hooks=True)
    for t, (out, fmaps) in enumerate(zip(results, caught)):
        # fingerprints first: a layout error shows here as a jump, GEMM order as a slow drift
        names = [f'backbone_feat{i}_f{t}' for i in range(4)] + [f'aspp_f{t}']
        for name, fmap in zip(names, fmaps):
            np.testing.assert_allclose(fmap.mean(axis=(2, 3)), feats[name + '_chmean'],
                                       atol=REF_ATOL, rtol=REF_RTOL, err_msg=name)
            np.testing.assert_allclose(fmap.std(axis=(2, 3)), feats[name + '_chstd'],
                                       atol=REF_ATOL, rtol=REF_RTOL, err_msg=name)
        for key in KEYS:
            expected = ref[f'{key}_f{t}']
            assert out[key].shape == expected.shape, key
            np.testing.assert_allclose(out[key], expected, atol=REF_ATOL, rtol=REF_RTOL,
                                       err_msg=f'{key}_f{t}')
    # the model keeps the last state
    np.testing.assert_array_equal(model.r4.numpy(), results[1]['r4'])
    # the second frame really used the first frame's state
    assert np.abs(ref['alpha_f1'] - _alone(model, ref['img_f1'])['alpha']).max() > 1e-3


def _alone(model, img):
    model.reset()
    return _run_frames(model, [img])[0]


def test_reset_reproduces_first_frame(shared_reference, det_weights):
    model = _reference_model(shared_reference, det_weights)
    frames = _frames(shared_reference)
    first = _run_frames(model, frames)
    model.reset()
    assert model.state == [None] * 4
    again = _run_frames(model, frames)
    for key in KEYS:
        np.testing.assert_array_equal(again[0][key], first[0][key])
        np.testing.assert_array_equal(again[1][key], first[1][key])
    # explicit states passed to forward replace the kept ones (PaddleSeg's signature)
    model.reset()
    with paddle.no_grad():
        out = model({'img': paddle.to_tensor(frames[1])},
                    *[paddle.to_tensor(first[0][k]) for k in ('r1', 'r2', 'r3', 'r4')])
    np.testing.assert_array_equal(out['alpha'].numpy(), first[1]['alpha'])


def test_batch_equals_each_sample_alone(shared_reference, det_weights):
    model = _reference_model(shared_reference, det_weights)
    f0, f1 = _frames(shared_reference)
    # two clips side by side, two steps each: clip a = (f0, f1), clip b = (f1, f0)
    batch = _run_frames(model, [np.concatenate([f0, f1]), np.concatenate([f1, f0])])
    model.reset()
    clip_a = _run_frames(model, [f0, f1])
    model.reset()
    clip_b = _run_frames(model, [f1, f0])
    for t in range(2):
        for key in KEYS:
            np.testing.assert_allclose(batch[t][key][:1], clip_a[t][key], atol=1e-5, rtol=0, err_msg=key)
            np.testing.assert_allclose(batch[t][key][1:], clip_b[t][key], atol=1e-5, rtol=0, err_msg=key)


def test_odd_sizes_crop_and_state_shapes(det_weights, shared_reference):
    model = _reference_model(shared_reference, det_weights)
    img = det_weights.make_scene(1, 250, 198, seed=3)['img'] * np.float32(0.5) + np.float32(0.5)
    out = _run_frames(model, [img, img])
    # src_sm is floor(250/4) x floor(198/4) = 62 x 49; the states sit at ceil halvings of it
    assert out[1]['alpha'].shape == (1, 1, 250, 198) and out[1]['fg'].shape == (1, 3, 250, 198)
    assert [out[1][k].shape[1:] for k in ('r1', 'r2', 'r3', 'r4')] == \
        [(16, 31, 25), (20, 16, 13), (40, 8, 7), (64, 4, 4)]
    for key in ('alpha', 'fg'):
        assert 0 <= out[1][key].min() and out[1][key].max() <= 1
    # a frame of another size cannot use the kept state
    with pytest.raises(ValueError, match='reset'):
        with paddle.no_grad():
            model({'img': paddle.to_tensor(img[:, :, :128, :128])})


def test_fg_is_channel_flipped_and_zero_state_broadcasts(shared_reference, det_weights):
    model = _reference_model(shared_reference, det_weights)
    img = paddle.to_tensor(_frames(shared_reference)[0])
    with paddle.no_grad():
        outputs, states = model.step(img, [None] * 4)
        ones = model.step(img, model.initial_state(1))
        model.to_rgb = False
        try:
            unflipped = model.step(img, [None] * 4)[0][1]
        finally:
            model.to_rgb = True
    np.testing.assert_array_equal(outputs[1].numpy(), unflipped.numpy()[:, ::-1])
    # zero [1, C, 1, 1] states are exactly "no history"
    for a, b in zip(outputs + states, ones[0] + ones[1]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_training_mode_is_refused():
    model = build_rvm()
    model.train()
    with pytest.raises(RuntimeError, match='inference only'):
        model({'img': paddle.rand([1, 3, 64, 64])})


def test_dygraph_runner_resets_per_image_unless_carrying(shared_reference, det_weights):
    model = _reference_model(shared_reference, det_weights)
    f0, f1 = _frames(shared_reference)
    alone = _alone(model, f1)['alpha']
    model.reset()
    clip = _run_frames(model, [f0, f1])
    images = dygraph_runner(model)
    images(f0, None)
    np.testing.assert_array_equal(images(f1, None), alone)
    model.reset()
    video = dygraph_runner(model, carry_state=True)
    video(f0, None)
    np.testing.assert_array_equal(video(f1, None), clip[1]['alpha'])


def test_config_builds_the_manifest_model():
    cfg = Built(Config(CONFIG))
    model = cfg.model
    assert isinstance(model, RVM) and model.downsample_ratio == 0.25
    assert type(model.refiner).__name__ == 'DeepGuidedFilterRefiner'
    assert [t['type'] for t in cfg.config.val_dataset_config['transforms']] == ['LoadImages', 'Normalize']


@pytest.mark.slow
def test_export_paddle_inference_and_onnx_carry_state(shared_reference, det_weights, tmp_path):
    model = _reference_model(shared_reference, det_weights)
    frames = _frames(shared_reference)
    dygraph = _run_frames(model, frames)
    transforms = [{'type': 'LoadImages', 'to_rgb': True},
                  {'type': 'Normalize', 'mean': [0, 0, 0], 'std': [1, 1, 1]}]
    folder = export_model(model, str(tmp_path / 'rvm'), transforms, ExportOptions(onnx=True))
    deploy = load_deploy_config(folder)
    assert deploy.state_names == ['r1', 'r2', 'r3', 'r4'] and deploy.state_channels == [16, 20, 40, 64]
    assert deploy.output_names == list(KEYS)

    # recurrent models get the engine choice too: timed on a second frame, fed the state back
    assert set(deploy.engine_ms) == set(ENGINES)
    assert deploy.cpu_engine == min(deploy.engine_ms, key=deploy.engine_ms.get)
    assert Predictor(folder, device='cpu', threads=1).engine_name == deploy.cpu_engine
    for engine in ENGINES:  # the state is carried through every engine
        predictor = Predictor(folder, device='cpu', threads=1, carry_state=True, engine=engine)
        assert predictor.recurrent and predictor.engine_name == engine
        inferred = []
        for t, img in enumerate(frames):
            inferred.append(predictor.outputs(img))
            for key in KEYS:
                np.testing.assert_allclose(inferred[t][key], dygraph[t][key], atol=EXPORT_ATOL,
                                           rtol=0, err_msg=f'{engine} {key}_f{t}')
    # reset() starts a new clip; without carry_state every call is a first frame
    predictor.reset()
    np.testing.assert_array_equal(predictor(frames[0]), inferred[0]['alpha'])
    np.testing.assert_array_equal(predictor(frames[1]), inferred[1]['alpha'])
    with pytest.raises(ValueError, match='reset'):
        predictor(np.concatenate(frames))
    predictor.carry_state = False
    np.testing.assert_allclose(predictor(frames[1]), _alone(model, frames[1])['alpha'],
                               atol=EXPORT_ATOL, rtol=0)

    import onnxruntime as ort
    session = ort.InferenceSession(deploy.onnx_path, providers=['CPUExecutionProvider'])
    names = [i.name for i in session.get_inputs()]
    assert names == ['img', 'r1', 'r2', 'r3', 'r4']
    states = [np.zeros((1, c, 1, 1), np.float32) for c in deploy.state_channels]
    for t, img in enumerate(frames):
        outs = session.run(None, dict(zip(names, [img] + states)))
        for key, value in zip(KEYS, outs):
            np.testing.assert_allclose(value, dygraph[t][key], atol=EXPORT_ATOL, rtol=0,
                                       err_msg=f'onnx {key}_f{t}')
        states = outs[2:]


def test_fast_guided_filter_refiner_reproduces_a_linear_map():
    """Where y = 2 x + 0.1 exactly at low resolution, the guided filter's A = 2, b = 0.1, so
    the upsampled output is 2 * fine + 0.1 (up to eps / var ~ 1e-4). Only away from the
    border: the box filter zero-pads (as PaddleSeg's), which biases the outermost low-res
    pixel, and bilinear upsampling by 4 reaches it from fine pixels < 6 (or > size - 7)."""
    from paddlematting.models.rvm import FastGuidedFilterRefiner
    rng = np.random.default_rng(0)
    base = paddle.to_tensor(rng.random((2, 3, 16, 20), dtype=np.float32))
    fine = paddle.to_tensor(rng.random((2, 3, 64, 80), dtype=np.float32))
    gray = base.mean(axis=1, keepdim=True)
    fgr, pha = FastGuidedFilterRefiner()(fine, base, 2 * base + 0.1, 2 * gray + 0.1, None)
    inner = (slice(None), slice(None), slice(6, 58), slice(6, 74))
    np.testing.assert_allclose(fgr.numpy()[inner], (2 * fine.numpy() + 0.1)[inner], atol=5e-3)
    np.testing.assert_allclose(pha.numpy()[inner],
                               (2 * fine.numpy().mean(axis=1, keepdims=True) + 0.1)[inner], atol=5e-3)
    model = build_rvm()
    model.eval()
    fast = RVM(MobileNetV3_large_x1_0_os16(out_index=[0, 2, 5], return_last_conv=True),
               refiner='fast_guided_filter', downsample_ratio=0.25)
    # the fast refiner has no weights: the state dict is RVM's minus the refiner's entries
    assert set(fast.state_dict()) == {k for k in model.state_dict() if not k.startswith('refiner.')}

"""ViTMatte against Hugging Face transformers' VitMatteForImageMatting (reference case A:
tests/data/reference/README.md, ViTMatte): the state-dict layout after the HF -> ours map,
the alpha and every stage's features for small and base, loading HF-named .safetensors,
batch independence and the chunked global attention."""
import json
import os

import numpy as np
import paddle
import pytest

from conftest import NO_DOWNLOAD, SHARED_REFERENCE, assert_matches_manifest, config_for, load_manifest
from paddlematting import Config
from paddlematting.builders import build_model
from paddlematting.models.backbones.vit_attention import AttentionOptions, RelPosAttention

# the reference README's pass thresholds (float32 against float64 reruns: 1e-6 .. 1.6e-5)
ALPHA_ATOL = 1e-5
LOGIT_ATOL = 5e-5
MAP_ATOL = 1e-4
MAP_REL_ATOL = 1e-5  # of the map's absmax, when larger than MAP_ATOL


def reference(name: str, suffix: str = '_A'):
    return np.load(os.path.join(SHARED_REFERENCE, 'outputs', f'{name}{suffix}.npz'))


def build_vitmatte(name: str, weights=None, opts=()):
    model = build_model(Config(config_for(name), opts=NO_DOWNLOAD + list(opts)), weights=weights)
    model.eval()
    return model


def case_a_inputs(ref) -> dict:
    """img and trimap (0..255) at the padded size, as the processor feeds the model."""
    pixel_values = ref['pixel_values']
    h, w = ref['trimap'].shape[-2:]
    trimap = np.zeros_like(pixel_values[:, 3:])
    trimap[:, :, :h, :w] = ref['trimap']
    return {'img': paddle.to_tensor(pixel_values[:, :3]), 'trimap': paddle.to_tensor(trimap)}


@pytest.mark.parametrize('name', ['vitmatte_small', 'vitmatte_base'])
def test_layout_equals_the_hf_manifest_after_the_map(name):
    """Every HF entry maps onto one of ours with its shape (Linear transposed), nothing left
    over on either side, in the manifest's order; counts as the manifest's."""
    model = build_vitmatte(name)
    assert_matches_manifest(model.state_dict(), load_manifest(name), model)


class FeatureHooks:
    """Forward hooks on the modules the reference's _A_feats.npz is named after."""

    def __init__(self, model):
        self.out = {}
        self.handles = []
        layers = dict(model.named_sublayers())
        names = (['backbone.embeddings.projection', 'backbone.embeddings',
                  'backbone.encoder.layer.0', 'backbone.encoder.layer.2',
                  'backbone.encoder.layer.11', 'decoder.matting_head']
                 + [f'decoder.convstream.convs.{i}' for i in range(3)]
                 + [f'decoder.fusion_blocks.{i}' for i in range(4)])
        for name in names:
            self.handles.append(layers[name].register_forward_post_hook(self._keep(name)))
        self.handles.append(layers['backbone.encoder.layer.2.residual'].register_forward_pre_hook(
            lambda layer, inputs: self.out.__setitem__(
                'backbone.encoder.layer.2.residual__input', inputs[0].numpy())))

    def _keep(self, name):
        def hook(layer, inputs, output):
            self.out[name] = output.numpy()
        return hook

    def remove(self):
        for handle in self.handles:
            handle.remove()


def assert_map_close(ours, theirs, name, atol=MAP_ATOL):
    tol = max(atol, MAP_REL_ATOL * float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol, err_msg=name)


def assert_decoder_stage(ours, feats, name):
    """A decoder stage against its channel statistics and its two 8x8 crops."""
    assert_map_close(ours.mean(axis=(2, 3)), feats[f'{name}_chmean'], name + ' chmean')
    assert_map_close(ours.std(axis=(2, 3)), feats[f'{name}_chstd'], name + ' chstd')
    assert_map_close(ours[:, :, :8, :8], feats[f'{name}_crop_tl'], name + ' crop_tl')
    y, x = (int(v) for v in feats[f'{name}_crop_br_origin'])
    assert_map_close(ours[:, :, y:y + 8, x:x + 8], feats[f'{name}_crop_br'], name + ' crop_br')


@pytest.mark.parametrize('name', ['vitmatte_small',
                                  pytest.param('vitmatte_base', marks=pytest.mark.slow)])
def test_case_a_matches_transformers_at_every_stage(name, published_safetensors):
    """Case A (250x310 padded to 256x320: 16x20 tokens, 2x2 zero-padded windows, resized
    relative tables): alpha within 1e-5, the logit within 5e-5, each feature within 1e-4."""
    ref, feats = reference(name), reference(name, '_A_feats')
    model = build_vitmatte(name, weights=published_safetensors(name))
    hooks = FeatureHooks(model)
    with paddle.no_grad():
        alphas = model(case_a_inputs(ref)).numpy()
    hooks.remove()
    for key in ('backbone.embeddings.projection', 'backbone.embeddings', 'backbone.encoder.layer.0',
                'backbone.encoder.layer.2.residual__input', 'backbone.encoder.layer.2',
                'backbone.encoder.layer.11'):
        assert_map_close(hooks.out[key], feats[key], key)
    for key in [f'decoder.convstream.convs.{i}' for i in range(3)] + [
            f'decoder.fusion_blocks.{i}' for i in range(4)]:
        assert_decoder_stage(hooks.out[key], feats, key)
    np.testing.assert_allclose(hooks.out['decoder.matting_head'], feats['decoder.matting_head'],
                               rtol=0, atol=LOGIT_ATOL)
    assert alphas.shape == ref['alphas'].shape  # the padded size, as HF returns it
    np.testing.assert_allclose(alphas, ref['alphas'], rtol=0, atol=ALPHA_ATOL)


def test_weights_through_the_config_pretrained_give_the_same_alpha(published_safetensors):
    """``model.pretrained`` (what the zoo's URL is downloaded to) loads the same HF file
    strictly, and the result equals the reference."""
    ref = reference('vitmatte_small')
    path = published_safetensors('vitmatte_small')
    model = build_vitmatte('vitmatte_small', opts=[f'model.pretrained={path}'])
    with paddle.no_grad():
        alphas = model(case_a_inputs(ref)).numpy()
    np.testing.assert_allclose(alphas, ref['alphas'], rtol=0, atol=ALPHA_ATOL)


def test_a_batch_of_two_equals_each_alone(published_safetensors, det_weights):
    model = build_vitmatte('vitmatte_small', weights=published_safetensors('vitmatte_small'))
    scene = det_weights.make_scene(2, 64, 96, seed=3)
    batch = {'img': paddle.to_tensor(scene['img']), 'trimap': paddle.to_tensor(scene['trimap'])}
    with paddle.no_grad():
        both = model(batch).numpy()
        alone = [model({k: v[i:i + 1] for k, v in batch.items()}).numpy() for i in range(2)]
    np.testing.assert_allclose(both, np.concatenate(alone), rtol=0, atol=1e-6)
    assert np.abs(both[0] - both[1]).max() > 1e-3  # the samples differ, so the check means something


def test_chunked_global_attention_equals_the_plain_one():
    """Query-row chunks (one row at a time here) give the plain attention's values, for a
    grid whose relative tables are resized (7x9 tokens against tables for 4)."""
    paddle.seed(0)
    plain = RelPosAttention(32, 4, grid_size=4, options=AttentionOptions(max_score_bytes=0))
    chunked = RelPosAttention(32, 4, grid_size=4, options=AttentionOptions(max_score_bytes=1))
    rng = np.random.default_rng(0)
    state = {k: paddle.to_tensor(rng.uniform(-0.5, 0.5, v.shape).astype('float32'))
             for k, v in plain.state_dict().items()}
    plain.set_state_dict(state)
    chunked.set_state_dict(state)
    assert chunked.rows_per_chunk(2, 7, 9) == 1 and plain.rows_per_chunk(2, 7, 9) == 7
    x = paddle.to_tensor(rng.standard_normal((2, 7, 9, 32)).astype('float32'))
    # float32 GEMMs of other shapes sum in another order: ~1e-6 of values ~1
    np.testing.assert_allclose(chunked(x).numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-5)


def test_case_a_meta_is_the_recipe_we_rebuild(det_weights):
    """The reference was made from these weights (checksum) and this scene."""
    ref = reference('vitmatte_small')
    meta = json.loads(str(ref['meta']))
    weights = det_weights.make_weights(load_manifest('vitmatte_small'))
    assert det_weights.weights_sha256(weights) == meta['weights_sha256']
    scene = det_weights.make_scene(1, 250, 310, seed=0)
    np.testing.assert_array_equal(ref['pixel_values'][:, :3, :250, :310], scene['img'])


@pytest.mark.slow
def test_export_agrees_with_dygraph_at_other_sizes_and_batches(published_safetensors, det_weights,
                                                               tmp_path):
    """A dynamic-size export (window padding and table resizing traced for unknown sizes)
    run by Paddle Inference equals dygraph at two sizes and batch sizes."""
    from paddlematting.inference import Predictor, export_model
    model = build_vitmatte('vitmatte_small', weights=published_safetensors('vitmatte_small'))
    folder = export_model(model, str(tmp_path / 'export'), [{'type': 'Normalize'}])
    predictor = Predictor(folder, device='cpu', threads=1)
    assert predictor.deploy.input_names == ['img', 'trimap']
    for n, h, w in ((1, 64, 96), (2, 96, 64)):
        scene = det_weights.make_scene(n, h, w, seed=5)
        with paddle.no_grad():
            expected = model({'img': paddle.to_tensor(scene['img']),
                              'trimap': paddle.to_tensor(scene['trimap'])}).numpy()
        np.testing.assert_allclose(predictor(scene['img'], scene['trimap']), expected, rtol=0,
                                   atol=ALPHA_ATOL)


@pytest.mark.slow
def test_onnx_export_agrees_with_dygraph(published_safetensors, det_weights, tmp_path):
    import onnxruntime as ort
    from paddlematting.inference import ExportOptions, export_model
    model = build_vitmatte('vitmatte_small', weights=published_safetensors('vitmatte_small'))
    folder = export_model(model, str(tmp_path / 'export'), [{'type': 'Normalize'}],
                          ExportOptions(onnx=True, choose_engine=False))
    session = ort.InferenceSession(os.path.join(folder, 'model.onnx'),
                                   providers=['CPUExecutionProvider'])
    scene = det_weights.make_scene(1, 64, 96, seed=5)
    with paddle.no_grad():
        expected = model({'img': paddle.to_tensor(scene['img']),
                          'trimap': paddle.to_tensor(scene['trimap'])}).numpy()
    out = session.run(None, {'img': scene['img'], 'trimap': scene['trimap']})[0]
    np.testing.assert_allclose(out, expected, rtol=0, atol=ALPHA_ATOL)


@pytest.mark.slow
def test_a_large_image_decoded_in_bands_equals_it_decoded_whole(published_safetensors, det_weights):
    """Bands of 32 rows with 64 rows of context each side (forced on a 320x96 image) give
    the alpha of one whole pass: the decoder reaches ~46 rows, the cut is exact."""
    path = published_safetensors('vitmatte_small')
    whole = build_vitmatte('vitmatte_small', weights=path, opts=['model.band_rows=0'])
    banded = build_vitmatte('vitmatte_small', weights=path,
                            opts=['model.band_rows=32', 'model.band_min_pixels=1'])
    scene = det_weights.make_scene(1, 320, 96, seed=2)
    inputs = {'img': paddle.to_tensor(scene['img']), 'trimap': paddle.to_tensor(scene['trimap'])}
    with paddle.no_grad():
        expected = whole(inputs).numpy()
        parts = banded(inputs).numpy()
    assert banded.decoder.bands.applies(320, 96) and not whole.decoder.bands.applies(320, 96)
    np.testing.assert_allclose(parts, expected, rtol=0, atol=1e-6)

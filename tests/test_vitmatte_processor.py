"""ViTMatte's val/predict transforms against Hugging Face's VitMatteImageProcessor (the
reference's ``pixel_values``), the two padding rules, and the alpha cropped back to the
input size through the prediction pipeline."""
import numpy as np
import pytest

from conftest import NO_DOWNLOAD, config_for
from paddlematting import Config
from paddlematting.builders import Built
from paddlematting.pipeline.prediction import predict_alpha, prepare_sample
from paddlematting.pipeline.runner import dygraph_runner
from paddlematting.transforms import Compose, Normalize, PadToMultiple
from paddlematting.transforms.padding import pad_to_multiple
from test_models_vitmatte import ALPHA_ATOL, build_vitmatte, reference

# one float32 ulp at 1.0: Normalize's (x / 255 - 0.5) / 0.5 against the processor's
# (x - 127.5) / 127.5 (the reference README: the PIL backend differs by the same)
ULP = 1.2e-7


def case_a_arrays(ref):
    """Case A's raw image (uint8 [H,W,3] RGB) and trimap (uint8 [H,W]), as a user has them."""
    image = np.round(ref['image'][0].transpose(1, 2, 0) * 255.0).astype(np.uint8)
    return image, ref['trimap'][0, 0].astype(np.uint8)


def vitmatte_val_transforms() -> Compose:
    return Compose(Built(Config(config_for('vitmatte_small'), opts=NO_DOWNLOAD)).val_transforms)


def test_the_val_transforms_give_the_processors_pixel_values():
    ref = reference('vitmatte_small')
    image, trimap = case_a_arrays(ref)
    sample = prepare_sample(image, trimap, vitmatte_val_transforms())
    pixel_values = ref['pixel_values']
    assert sample['img'].shape == (1, 3, 256, 320) and sample['trimap'].shape == (1, 1, 256, 320)
    np.testing.assert_allclose(sample['img'], pixel_values[:, :3], rtol=0, atol=ULP)
    # the model scales the 0..255 trimap by float32(1/255), as the processor does: exact
    np.testing.assert_array_equal(sample['trimap'] * np.float32(1 / 255), pixel_values[:, 3:])
    assert not sample['img'][:, :, 250:].any() and not sample['img'][:, :, :, 310:].any()
    assert sample['trans_info'] == [('padding', (250, 310))]


@pytest.mark.parametrize('size, default, slow', [
    ((250, 310), (6, 10), (6, 10)),
    ((256, 310), (0, 10), (32, 10)),   # a divisible side grows by 32 only in the slow rule
    ((256, 320), (0, 0), (0, 0)),      # nothing to pad: neither rule pads
    ((1, 33), (31, 31), (31, 31)),
])
def test_the_two_padding_rules(size, default, slow):
    assert pad_to_multiple(*size, 32, pad_divisible_sides=False) == default
    assert pad_to_multiple(*size, 32, pad_divisible_sides=True) == slow


def test_pad_to_multiple_pads_normalised_zeros_and_records_the_size():
    image = np.full((40, 64, 3), 200, np.uint8)
    trimap = np.full((40, 64), 128, np.uint8)
    sample = Compose([Normalize(), PadToMultiple(32, pad_divisible_sides=True)])(
        {'img': image, 'trimap': trimap})
    assert sample['img'].shape == (3, 64, 96)
    assert not sample['img'][:, 40:].any() and not sample['trimap'][:, 40:].any()
    assert sample['trans_info'] == [('padding', (40, 64))]


def test_pad_to_multiple_before_normalize_is_refused():
    with pytest.raises(ValueError, match='after Normalize'):
        Compose([PadToMultiple(32), Normalize()])({'img': np.zeros((8, 8, 3), np.uint8)})


def test_the_prediction_pipeline_crops_the_alpha_to_the_input(published_safetensors):
    """predict_alpha (the val transforms, the model, finish_alpha): the alpha at the raw
    250x310, HF's cropped alpha in the unknown band, the trimap's known regions forced."""
    ref = reference('vitmatte_small')
    image, trimap = case_a_arrays(ref)
    model = build_vitmatte('vitmatte_small', weights=published_safetensors('vitmatte_small'))
    alpha = predict_alpha(dygraph_runner(model), image, trimap, vitmatte_val_transforms())
    assert alpha.shape == (250, 310)
    unknown = trimap == 128
    np.testing.assert_allclose(alpha[unknown], ref['alpha'][0, 0][unknown], rtol=0,
                               atol=ALPHA_ATOL)
    assert (alpha[trimap == 255] == 1).all() and (alpha[trimap == 0] == 0).all()


def test_predict_cli_with_an_hf_named_safetensors_and_a_trimap(published_safetensors, tmp_path):
    """predict.py --model_path model.safetensors (HF names, as downloaded) --trimap_path:
    the written matte is HF's alpha cropped to 250x310 (8-bit), known regions forced."""
    from paddlematting.cli import predict as predict_cli
    from paddlematting.utils.image_io import read_alpha, write_png
    ref = reference('vitmatte_small')
    image, trimap = case_a_arrays(ref)
    write_png(str(tmp_path / 'photo.png'), image)
    write_png(str(tmp_path / 'photo_trimap.png'), trimap)
    code = predict_cli.main(['--config', config_for('vitmatte_small'), '--device', 'cpu',
                             '--backend', 'dygraph', '--model_path',
                             published_safetensors('vitmatte_small'),
                             '--image_path', str(tmp_path / 'photo.png'),
                             '--trimap_path', str(tmp_path / 'photo_trimap.png'),
                             '--save_dir', str(tmp_path / 'out')])
    assert code == 0
    matte = read_alpha(str(tmp_path / 'out' / 'photo_alpha.png'))
    assert matte.shape == (250, 310)
    unknown = trimap == 128
    expected = ref['alpha'][0, 0][unknown] * 255.0
    assert np.abs(matte[unknown].astype(np.float64) - expected).max() <= 0.5 + 1e-3
    assert (matte[trimap == 255] == 255).all() and (matte[trimap == 0] == 0).all()

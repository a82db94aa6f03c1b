"""The exported MODNet-MobileNetV2 and DIM-VGG16 under Paddle Inference match dygraph
on the shipped real images (whole pipeline: transforms, model, size restoration)."""
import glob
import importlib.util
import os

import numpy as np
import paddle
import pytest

from conftest import REAL_DATA_ROOT, REPO_ROOT, SHARED_REFERENCE
from paddlematting import Config
from paddlematting.inference import ExportOptions, Predictor, export_model
from paddlematting.builders import build_transforms
from paddlematting.pipeline import predict_alpha
from paddlematting.utils.image_io import read_image, read_trimap
from paddlematting.builders import Built

# smaller than the val configs (short side 512 / long side 3840) to keep CPU time low
MODNET_TRANSFORMS = [{'type': 'LoadImages'}, {'type': 'ResizeByShort', 'short_size': 128},
                     {'type': 'ResizeToIntMult', 'mult_int': 32}, {'type': 'Normalize'}]
# no multiple-of-32 step: DIM's val pipeline feeds arbitrary sizes
DIM_TRANSFORMS = [{'type': 'LoadImages'}, {'type': 'ResizeByLong', 'long_size': 150},
                  {'type': 'Normalize'}]
TOLERANCE = 1e-3


def _load_model(config_name, manifest_name):
    """The config's model with the team's deterministic weights when ../shared is present,
    else a seeded random init (still a fair dygraph-vs-exported comparison)."""
    paddle.seed(0)
    cfg = Built(Config(os.path.join(REPO_ROOT, 'configs', config_name),
                       opts=['model.backbone.pretrained=null', 'model.pretrained=null']))
    model = cfg.model
    recipe = os.path.join(SHARED_REFERENCE, 'det_weights.py')
    if os.path.isfile(recipe):
        spec = importlib.util.spec_from_file_location('det_weights', recipe)
        det_weights = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(det_weights)
        weights = det_weights.make_weights(os.path.join(SHARED_REFERENCE, 'manifests', manifest_name + '.json'))
        model.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
    model.eval()
    return cfg.config, model


def _dygraph_runner(model):
    def run(img, trimap=None):
        inputs = {'img': paddle.to_tensor(img)}
        if trimap is not None:
            inputs['trimap'] = paddle.to_tensor(trimap)
        with paddle.no_grad():
            return model(inputs).numpy()
    return run


def _real_pairs(count):
    names = sorted(glob.glob(os.path.join(REAL_DATA_ROOT, 'val', 'fg', '*.png')))[:count]
    return [(read_image(p), read_trimap(p.replace(os.sep + 'fg' + os.sep, os.sep + 'trimap' + os.sep)))
            for p in names]


@pytest.fixture(scope='module')
def modnet(tmp_path_factory):
    cfg, model = _load_model('modnet/modnet_mobilenetv2.yml', 'modnet_mobilenetv2')
    folder = export_model(model, str(tmp_path_factory.mktemp('modnet') / 'export'),
                          MODNET_TRANSFORMS, ExportOptions(model_type=cfg.model_config['type']))
    return model, Predictor(folder, device='cpu')


def test_modnet_exported_pipeline_matches_dygraph_on_real_images(modnet):
    model, predictor = modnet
    assert predictor.deploy.input_names == ['img']
    transforms = build_transforms(MODNET_TRANSFORMS)
    runner = _dygraph_runner(model)
    for image, _ in _real_pairs(2):
        expected = predict_alpha(runner, image, None, transforms)
        alpha = predictor.predict(image)
        assert alpha.shape == image.shape[:2] and alpha.dtype == np.float32
        assert expected.std() > 1e-3, 'the model output is constant; the comparison would prove nothing'
        assert np.abs(alpha - expected).max() < TOLERANCE


def test_modnet_one_export_serves_several_sizes(modnet, rng):
    model, predictor = modnet
    runner = _dygraph_runner(model)
    for shape in [(1, 3, 96, 160), (2, 3, 128, 64)]:
        img = rng.uniform(-1, 1, size=shape).astype(np.float32)
        out = predictor(img)
        assert out.shape == (shape[0], 1) + shape[2:]
        assert np.abs(out - runner(img)).max() < TOLERANCE


def test_modnet_onnx_matches_dygraph(modnet, tmp_path, rng):
    ort = pytest.importorskip('onnxruntime')
    pytest.importorskip('paddle2onnx')
    model, _ = modnet
    folder = export_model(model, str(tmp_path / 'onnx'), MODNET_TRANSFORMS,
                          ExportOptions(onnx=True))
    session = ort.InferenceSession(os.path.join(folder, 'model.onnx'), providers=['CPUExecutionProvider'])
    runner = _dygraph_runner(model)
    for shape in [(1, 3, 128, 160), (1, 3, 64, 96)]:
        img = rng.uniform(-1, 1, size=shape).astype(np.float32)
        assert np.abs(session.run(None, {'img': img})[0] - runner(img)).max() < TOLERANCE


def test_dim_exported_pipeline_matches_dygraph_with_trimap(tmp_path):
    cfg, model = _load_model('dim/dim_vgg16.yml', 'dim_vgg16')
    folder = export_model(model, str(tmp_path / 'dim'), DIM_TRANSFORMS,
                          ExportOptions(model_type=cfg.model_config['type']))
    predictor = Predictor(folder, device='cpu')
    assert predictor.deploy.input_names == ['img', 'trimap']
    transforms = build_transforms(DIM_TRANSFORMS)
    runner = _dygraph_runner(model)
    shapes = set()
    for image, trimap in _real_pairs(2):
        expected = predict_alpha(runner, image, trimap, transforms)
        alpha = predictor.predict(image, trimap)
        shapes.add(alpha.shape)
        assert alpha.shape == image.shape[:2]
        unknown = trimap == 128
        assert expected[unknown].std() > 1e-3
        assert np.abs(alpha - expected).max() < TOLERANCE
    assert len(shapes) == 2, 'the two images should exercise two input sizes'
    with pytest.raises(ValueError, match='needs a trimap'):
        predictor.predict(_real_pairs(1)[0][0])

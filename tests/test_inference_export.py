"""Export + Paddle Inference on a tiny conv/bilinear model: numerics, dynamic shapes,
deploy.yaml, the export cache and ONNX. Fast (a toy model), so these run everywhere."""
import os

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest
import yaml

from paddlematting.inference import (DeployConfig, ExportOptions, Predictor, export_checkpoint_cached,
                                     export_model, load_deploy_config, write_deploy_config)
from paddlematting.inference import export as export_module
from paddlematting.inference.export_cache import TIMES_FILE
from paddlematting.config import manager
from paddlematting.config import Config

TRANSFORMS = [{'type': 'LoadImages'}, {'type': 'ResizeByShort', 'short_size': 64},
              {'type': 'ResizeToIntMult', 'mult_int': 32}, {'type': 'Normalize'}]


@manager.MODELS.add_component
class ToyMatting(nn.Layer):
    """Strided conv down, bilinear up to the input size, sigmoid: the ops MODNet relies on.
    With ``with_trimap`` it also reads a trimap channel, like DIM."""

    def __init__(self, with_trimap=False):
        super().__init__()
        self.with_trimap = with_trimap
        # what a model class declares; set per instance here as the toy is either kind
        self.input_names = ('img', 'trimap') if with_trimap else ('img',)
        self.down = nn.Conv2D(4 if with_trimap else 3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2D(8)
        self.out = nn.Conv2D(8, 1, 3, padding=1)

    def forward(self, inputs):
        x = inputs['img']
        if self.with_trimap:
            x = paddle.concat([x, inputs['trimap'] / 255.0], axis=1)
        y = self.out(F.relu(self.bn(self.down(x))))
        y = F.interpolate(y, size=paddle.shape(inputs['img'])[2:], mode='bilinear', align_corners=False)
        return F.sigmoid(y)


def _toy(with_trimap=False):
    paddle.seed(0)
    model = ToyMatting(with_trimap)
    model.eval()
    return model


def _dygraph(model, img, trimap=None):
    inputs = {'img': paddle.to_tensor(img)}
    if trimap is not None:
        inputs['trimap'] = paddle.to_tensor(trimap)
    with paddle.no_grad():
        return model(inputs).numpy()


@pytest.fixture(scope='module')
def toy_folder(tmp_path_factory):
    return export_model(_toy(), str(tmp_path_factory.mktemp('toy') / 'export'), TRANSFORMS,
                        ExportOptions(model_type='ToyMatting'))


def test_exported_toy_matches_dygraph_at_two_sizes_and_batch_two(toy_folder, rng):
    model = _toy()
    predictor = Predictor(toy_folder, device='cpu', threads=1)
    assert predictor.deploy.input_names == ['img']
    for shape in [(1, 3, 64, 96), (2, 3, 40, 56)]:
        img = rng.standard_normal(shape).astype(np.float32)
        out = predictor(img)
        assert out.shape == (shape[0], 1) + shape[2:]
        np.testing.assert_allclose(out, _dygraph(model, img), atol=1e-4)


def test_trimap_model_exports_a_trimap_input(tmp_path, rng):
    model = _toy(with_trimap=True)
    folder = export_model(model, str(tmp_path / 'dim_like'), TRANSFORMS,
                          ExportOptions(model_type='DIM'))
    predictor = Predictor(folder, device='cpu', threads=1)
    assert predictor.needs_trimap
    img = rng.standard_normal((1, 3, 48, 64)).astype(np.float32)
    trimap = rng.choice([0.0, 128.0, 255.0], size=(1, 1, 48, 64)).astype(np.float32)
    np.testing.assert_allclose(predictor(img, trimap), _dygraph(model, img, trimap), atol=1e-4)
    with pytest.raises(ValueError, match='needs a trimap'):
        predictor(img)


def test_predict_runs_transforms_and_restores_size(toy_folder, rng):
    predictor = Predictor(toy_folder, device='cpu', threads=1)
    image = rng.integers(0, 256, size=(75, 101, 3), dtype=np.uint8)
    alpha = predictor.predict(image)
    assert alpha.shape == (75, 101) and alpha.dtype == np.float32
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    # a trimap's certain regions override the prediction
    trimap = np.full((75, 101), 128, np.uint8)
    trimap[:20] = 0
    trimap[-20:] = 255
    fused = predictor.predict(image, trimap)
    assert fused[:15].max() == 0.0 and fused[-15:].min() == 1.0


def test_deploy_yaml_round_trip(toy_folder, tmp_path):
    loaded = load_deploy_config(toy_folder)
    assert loaded.transforms == TRANSFORMS
    assert loaded.model_type == 'ToyMatting' and not loaded.needs_trimap
    assert os.path.isfile(loaded.model_path) and os.path.isfile(loaded.params_path)
    # write the same content into another folder, read it back unchanged
    other = tmp_path / 'copy'
    other.mkdir()
    for name in (loaded.model_file, loaded.params_file):
        (other / name).write_bytes(open(os.path.join(toy_folder, name), 'rb').read())
    copy = DeployConfig(**{**loaded.__dict__, 'folder': str(other)})
    write_deploy_config(copy)
    assert load_deploy_config(str(other)) == copy


def test_paddleseg_style_deploy_yaml_loads(toy_folder, tmp_path):
    """PaddleSeg Matting's deploy.yaml has no input_names; it means an image-only model."""
    loaded = load_deploy_config(toy_folder)
    folder = tmp_path / 'seg'
    folder.mkdir()
    for name in (loaded.model_file, loaded.params_file):
        (folder / name).write_bytes(open(os.path.join(toy_folder, name), 'rb').read())
    (folder / 'deploy.yaml').write_text(yaml.safe_dump({'Deploy': {
        'model': loaded.model_file, 'params': loaded.params_file, 'transforms': [{'type': 'Normalize'}]}}))
    config = load_deploy_config(str(folder))
    assert config.input_names == ['img'] and config.transforms == [{'type': 'Normalize'}]


def test_deploy_yaml_errors_name_the_file(tmp_path, toy_folder):
    with pytest.raises(FileNotFoundError, match='deploy.yaml'):
        load_deploy_config(str(tmp_path))
    (tmp_path / 'deploy.yaml').write_text(yaml.safe_dump({'Deploy': {
        'model': 'missing.json', 'params': 'missing.pdiparams'}}))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_deploy_config(str(tmp_path))


def test_export_refuses_to_replace_a_foreign_folder(tmp_path):
    target = tmp_path / 'mine'
    target.mkdir()
    (target / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='not an export folder written by paddlematting'):
        export_model(_toy(), str(target), TRANSFORMS)
    assert (target / 'notes.txt').read_text() == 'keep me'
    assert [p.name for p in tmp_path.iterdir()] == ['mine']  # no temporary folder left behind


def test_export_replaces_a_previous_export(tmp_path, toy_folder):
    target = str(tmp_path / 'again')
    export_model(_toy(), target, TRANSFORMS)
    export_model(_toy(), target, [{'type': 'Normalize'}])
    assert load_deploy_config(target).transforms == [{'type': 'Normalize'}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['again']


def _toy_cfg(tmp_path, **extra):
    """A Config of the registered ToyMatting (image-only) with the test's val transforms."""
    path = tmp_path / f'toy_{len(list(tmp_path.glob("toy_*.yml")))}.yml'
    dic = {'model': {'type': 'ToyMatting'}, 'val_dataset': {'transforms': TRANSFORMS}, **extra}
    path.write_text(yaml.safe_dump(dic))
    return Config(str(path))


def test_export_cache_reuses_the_folder_and_keys_on_weights(tmp_path, monkeypatch):
    checkpoint = str(tmp_path / 'a.pdparams')
    paddle.save(_toy().state_dict(), checkpoint)
    cache = str(tmp_path / 'cache')
    first = export_checkpoint_cached(_toy_cfg(tmp_path), checkpoint, cache_dir=cache)
    assert load_deploy_config(first).model_type == 'ToyMatting'

    def fail(*args, **kwargs):
        raise AssertionError('export_model ran again for a cached checkpoint')

    monkeypatch.setattr(export_module, 'export_model', fail)
    assert export_checkpoint_cached(_toy_cfg(tmp_path), checkpoint, cache_dir=cache) == first
    # settings the export does not depend on (training length, datasets) keep the key
    unrelated = _toy_cfg(tmp_path, iters=5, train_dataset={'dataset_root': 'elsewhere'})
    assert export_checkpoint_cached(unrelated, checkpoint, cache_dir=cache) == first
    monkeypatch.undo()

    # other weights, same config: a new export
    changed = _toy()
    changed.out.bias.set_value(changed.out.bias + 1.0)
    other_checkpoint = str(tmp_path / 'b.pdparams')
    paddle.save(changed.state_dict(), other_checkpoint)
    second = export_checkpoint_cached(_toy_cfg(tmp_path), other_checkpoint, cache_dir=cache)
    assert second != first
    img = np.zeros((1, 3, 32, 32), np.float32)
    out_first = Predictor(first, device='cpu', threads=1)(img)
    out_second = Predictor(second, device='cpu', threads=1)(img)
    assert np.abs(out_first - out_second).max() > 1e-3
    assert _cached_folders(cache) == sorted([os.path.basename(first), os.path.basename(second)])



def _cached_folders(cache: str) -> list:
    """The exports in ``cache``, sorted; beside them lies only the cache's record of export times."""
    names = sorted(os.listdir(cache))
    assert set(n for n in names if not os.path.isdir(os.path.join(cache, n))) <= {TIMES_FILE}, names
    return [n for n in names if n != TIMES_FILE]


def test_onnx_export_matches_dygraph(tmp_path, rng):
    ort = pytest.importorskip('onnxruntime')
    pytest.importorskip('paddle2onnx')
    model = _toy()
    folder = export_model(model, str(tmp_path / 'onnx'), TRANSFORMS, ExportOptions(onnx=True))
    config = load_deploy_config(folder)
    assert config.onnx_file == 'model.onnx' and os.path.isfile(config.onnx_path)
    session = ort.InferenceSession(config.onnx_path, providers=['CPUExecutionProvider'])
    for shape in [(1, 3, 64, 96), (1, 3, 32, 160)]:
        img = rng.standard_normal(shape).astype(np.float32)
        out = session.run(None, {'img': img})[0]
        np.testing.assert_allclose(out, _dygraph(model, img), atol=1e-3)


def test_fixed_input_shape_export_runs_at_that_shape(tmp_path, rng):
    model = _toy()
    folder = export_model(model, str(tmp_path / 'fixed'), TRANSFORMS,
                          ExportOptions(input_shape=[1, 3, 32, 64]))
    img = rng.standard_normal((1, 3, 32, 64)).astype(np.float32)
    np.testing.assert_allclose(Predictor(folder, device='cpu', threads=1)(img), _dygraph(model, img), atol=1e-4)
    with pytest.raises(ValueError, match='N 3 H W'):
        export_model(model, str(tmp_path / 'bad'), TRANSFORMS,
                     ExportOptions(input_shape=[1, 4, 32, 64]))


def test_default_cache_dir_follows_paddlematting_home_unless_the_export_cache_is_set(
        tmp_path, monkeypatch):
    monkeypatch.delenv(export_module.CACHE_ENV, raising=False)
    monkeypatch.setenv('PADDLEMATTING_HOME', str(tmp_path / 'home'))
    assert export_module.default_cache_dir() == os.path.join(str(tmp_path / 'home'), 'exports')
    monkeypatch.setenv(export_module.CACHE_ENV, str(tmp_path / 'exports_here'))
    assert export_module.default_cache_dir() == str(tmp_path / 'exports_here')


def test_cached_exports_stay_under_the_size_bound(tmp_path, monkeypatch):
    # a bound of 0 MB keeps only the export in use: each new checkpoint evicts the previous one
    monkeypatch.setenv('PADDLEMATTING_EXPORT_CACHE_MB', '0')
    cache = str(tmp_path / 'cache')
    folders = []
    for bias in (0.0, 1.0):
        model = _toy()
        model.out.bias.set_value(model.out.bias + bias)
        checkpoint = str(tmp_path / f'w{bias}.pdparams')
        paddle.save(model.state_dict(), checkpoint)
        folders.append(export_checkpoint_cached(_toy_cfg(tmp_path), checkpoint, cache_dir=cache))
    assert _cached_folders(cache) == [os.path.basename(folders[1])]

"""The two engines behind Predictor: same outputs as dygraph, the recorded choice, INT8."""
import os

import numpy as np
import paddle
import pytest
import yaml

from conftest import REAL_DATA_ROOT, REPO_ROOT
from paddlematting import Config
from paddlematting.inference import ExportOptions, Predictor, export_model, load_deploy_config
from paddlematting.inference import engines as engines_module
from paddlematting.inference.engine_choice import representative_size
from paddlematting.inference.engines import ENGINES, default_threads
from paddlematting.utils.image_io import read_image
from paddlematting.builders import Built

CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')
TRANSFORMS = [{'type': 'LoadImages'}, {'type': 'ResizeByShort', 'short_size': 128},
              {'type': 'ResizeToIntMult', 'mult_int': 32}, {'type': 'Normalize'}]
SHIPPED = [os.path.join(REAL_DATA_ROOT, 'val', 'fg', name) for name in ('GT05.png', 'GT14.png')]


@pytest.fixture(scope='module')
def modnet_export(tmp_path_factory):
    """MODNet-MobileNetV2 (seeded random weights), exported with ONNX and the engine timing."""
    paddle.seed(3)
    model = Built(Config(CONFIG, opts=['model.backbone.pretrained=null'])).model
    model.eval()
    folder = export_model(model, str(tmp_path_factory.mktemp('x') / 'modnet'), TRANSFORMS,
                          ExportOptions(onnx=True, choose_engine=True))
    return model, folder


def _dygraph(model, img):
    with paddle.no_grad():
        return model({'img': paddle.to_tensor(img)}).numpy()


def test_export_records_the_faster_cpu_engine(modnet_export):
    _, folder = modnet_export
    deploy = load_deploy_config(folder)
    assert set(deploy.engine_ms) == set(ENGINES)
    assert deploy.cpu_engine == min(deploy.engine_ms, key=deploy.engine_ms.get)
    assert all(ms > 0 for ms in deploy.engine_ms.values())


@pytest.mark.parametrize('engine', ENGINES)
def test_each_engine_equals_dygraph_on_the_shipped_images(modnet_export, engine):
    model, folder = modnet_export
    predictor = Predictor(folder, device='cpu', engine=engine, threads=2)
    assert predictor.engine_name == engine
    for path in SHIPPED:
        from paddlematting.pipeline.prediction import prepare_sample
        sample = prepare_sample(read_image(path), None, predictor.transforms)
        expected = _dygraph(model, sample['img'])
        got = predictor(sample['img'])
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4, err_msg=path)


def test_the_stored_choice_is_honoured_and_can_be_overridden(modnet_export, tmp_path):
    _, folder = modnet_export
    path = os.path.join(folder, 'deploy.yaml')
    original = open(path).read()
    try:
        for stored in ENGINES:
            data = yaml.safe_load(original)
            data['Deploy']['cpu_engine'] = stored
            with open(path, 'w') as f:
                yaml.safe_dump(data, f)
            assert Predictor(folder, device='cpu').engine_name == stored
            other = [e for e in ENGINES if e != stored][0]
            assert Predictor(folder, device='cpu', engine=other).engine_name == other
        data = yaml.safe_load(original)
        data['Deploy']['cpu_engine'] = 'tensorflow'
        with open(path, 'w') as f:
            yaml.safe_dump(data, f)
        with pytest.raises(ValueError, match=r"deploy.yaml: Deploy.cpu_engine is 'tensorflow'"):
            load_deploy_config(folder)
    finally:
        with open(path, 'w') as f:
            f.write(original)


def test_onnxruntime_without_an_onnx_file_is_refused_by_name(tmp_path):
    model = Built(Config(CONFIG, opts=['model.backbone.pretrained=null'])).model
    folder = export_model(model, str(tmp_path / 'plain'), TRANSFORMS, ExportOptions(onnx=False))
    assert load_deploy_config(folder).cpu_engine is None
    assert Predictor(folder, device='cpu').engine_name == 'paddle_inference'
    with pytest.raises(FileNotFoundError, match=r'holds no model.onnx .*export.py --onnx'):
        Predictor(folder, device='cpu', engine='onnxruntime')


def test_int8_model_is_close_to_fp32_and_never_the_default(modnet_export, tmp_path):
    from paddlematting.inference.quantization import quantize_int8
    _, folder = modnet_export
    deploy = quantize_int8(folder, SHIPPED)
    assert os.path.isfile(deploy.int8_onnx_path)
    fp32 = Predictor(folder, device='cpu', engine='onnxruntime')
    int8 = Predictor(folder, device='cpu', precision='int8')
    assert int8.engine_name == 'onnxruntime'
    assert Predictor(folder, device='cpu').precision == 'fp32'
    image = read_image(SHIPPED[1])
    a32, a8 = fp32.predict(image), int8.predict(image)
    assert a8.shape == a32.shape
    diff = np.abs(a8 - a32)
    # random weights make a harsh case; trained models quantize better (README figures)
    assert diff.mean() < 0.05 and not np.array_equal(a8, a32)


def test_representative_size_follows_the_transforms():
    assert representative_size(TRANSFORMS) == (128, 128)
    assert representative_size([{'type': 'Resize', 'target_size': [320, 256]}]) == (256, 320)
    assert representative_size([{'type': 'Normalize'}]) == (512, 512)
    assert representative_size([{'type': 'ResizeByShort', 'short_size': 2048}]) == (1024, 1024)


def test_default_threads_counts_usable_physical_cores(monkeypatch):
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(8)))
    import psutil
    monkeypatch.setattr(psutil, 'cpu_count', lambda logical=True: 4 if not logical else 8)
    assert default_threads() == 4
    assert default_threads(reserved=3) == 1
    assert default_threads(reserved=10) == 1
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1})
    assert default_threads() == 2
    assert engines_module.default_threads is default_threads


def test_an_onnx_model_that_disagrees_is_never_chosen(modnet_export, tmp_path, monkeypatch,
                                                     records):
    import shutil
    from paddlematting.inference import engine_choice
    _, folder = modnet_export
    copy = str(tmp_path / 'copy')
    shutil.copytree(folder, copy)
    real_run = engines_module.OnnxRuntimeEngine.run

    def off_by_a_bit(self, feeds):  # what a silently wrong conversion looks like
        return [out + 0.01 for out in real_run(self, feeds)]

    monkeypatch.setattr(engines_module.OnnxRuntimeEngine, 'run', off_by_a_bit)
    deploy = engine_choice.choose_cpu_engine(copy, repeats=1)
    assert deploy.cpu_engine == 'paddle_inference' and set(deploy.engine_ms) == {'paddle_inference'}
    assert any('differs from the Paddle program by up to 0.01' in m for m in records)


def test_a_crashing_onnx_conversion_is_reported_not_fatal(tmp_path, monkeypatch):
    from paddlematting.inference import export as export_module
    monkeypatch.setattr(export_module, '_ONNX_CONVERTER', 'import os; os.abort()')
    model = Built(Config(CONFIG, opts=['model.backbone.pretrained=null'])).model
    with pytest.raises(RuntimeError, match=r'paddle2onnx could not convert .*exit status -6'):
        export_model(model, str(tmp_path / 'strict'), TRANSFORMS, ExportOptions(onnx=True))
    folder = export_model(model, str(tmp_path / 'cached'), TRANSFORMS,
                          ExportOptions(onnx=True, onnx_optional=True))
    deploy = load_deploy_config(folder)
    assert deploy.onnx_file is None and deploy.cpu_engine is None
def test_onnxruntime_threads_sleep_between_ops_and_still_equal_dygraph(modnet_export):
    # spinning pool threads would compete with DataLoader workers and pre/post-processing
    options = engines_module.onnxruntime_session_options(2)
    assert options.get_session_config_entry('session.intra_op.allow_spinning') == '0'
    assert options.intra_op_num_threads == 2
    model, folder = modnet_export
    img = np.random.default_rng(5).uniform(-1, 1, (1, 3, 96, 128)).astype(np.float32)
    got = Predictor(folder, device='cpu', engine='onnxruntime', threads=2)(img)
    np.testing.assert_allclose(got, _dygraph(model, img), rtol=0, atol=1e-4)

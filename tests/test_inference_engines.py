"""The three engines behind Predictor: same outputs as dygraph, the recorded choice (never a
disagreeing engine), INT8, bf16 only where the CPU has it."""
import dataclasses
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


def _fastest(name):
    """A stand-in for engine_choice.time_engine under which ``name`` is always fastest."""
    return lambda engine, feeds, repeats=5, warmup=1: 1.0 if engine.name == name else 50.0


@pytest.mark.parametrize('wrong', ['onnxruntime', 'openvino'])
def test_an_engine_that_disagrees_is_never_chosen_even_when_fastest(modnet_export, tmp_path,
                                                                  monkeypatch, records, wrong):
    import shutil
    from paddlematting.inference import engine_choice
    _, folder = modnet_export
    copy = str(tmp_path / 'copy')
    shutil.copytree(folder, copy)
    monkeypatch.setattr(engine_choice, 'time_engine', _fastest(wrong))
    assert engine_choice.choose_cpu_engine(copy, repeats=1).cpu_engine == wrong  # the control
    engine_class = {'onnxruntime': engines_module.OnnxRuntimeEngine,
                    'openvino': engines_module.OpenVinoEngine}[wrong]
    real_run = engine_class.run

    def off_by_a_bit(self, feeds):  # what a silently wrong conversion looks like
        return [out + 0.01 for out in real_run(self, feeds)]

    monkeypatch.setattr(engine_class, 'run', off_by_a_bit)
    deploy = engine_choice.choose_cpu_engine(copy, repeats=1)
    assert deploy.cpu_engine != wrong and wrong not in deploy.engine_ms
    assert set(deploy.engine_ms) == set(ENGINES) - {wrong}
    assert any(f'The {wrong} engine on {copy} differs from the Paddle program by up to 0.01' in m
               for m in records)
    assert load_deploy_config(copy).cpu_engine == deploy.cpu_engine


def test_the_choice_checks_every_engine_against_dygraph(modnet_export, tmp_path, monkeypatch,
                                                        records):
    """At export the reference is the dygraph model, so Paddle Inference is checked too."""
    import shutil
    from paddlematting.inference import engine_choice
    from paddlematting.inference.export import dygraph_reference
    model, folder = modnet_export
    copy = str(tmp_path / 'copy')
    shutil.copytree(folder, copy)
    monkeypatch.setattr(engine_choice, 'time_engine', _fastest('paddle_inference'))
    real = dygraph_reference(model)
    deploy = engine_choice.choose_cpu_engine(copy, repeats=1, reference=real)
    assert deploy.cpu_engine == 'paddle_inference' and set(deploy.engine_ms) == set(ENGINES)
    shifted = engine_choice.choose_cpu_engine(
        copy, repeats=1, reference=lambda feeds: [out + 0.002 for out in real(feeds)])
    assert shifted.cpu_engine is None and shifted.engine_ms == {}
    assert load_deploy_config(copy).cpu_engine is None  # the earlier choice is not left behind
    assert sum('differs from the dygraph model by up to 0.002' in m for m in records) == 3


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


def test_cpu_flags_come_from_the_first_cpu(tmp_path):
    from paddlematting.inference.precision import cpu_flags
    x86 = tmp_path / 'x86'
    x86.write_text('processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n'
                   'flags\t\t: fpu\n')
    assert cpu_flags(str(x86)) == {'fpu', 'avx2', 'avx512_bf16'}
    arm = tmp_path / 'arm'
    arm.write_text('processor\t: 0\nFeatures\t: fp asimd bf16\n')
    assert cpu_flags(str(arm)) == {'fp', 'asimd', 'bf16'}
    assert cpu_flags(str(tmp_path / 'absent')) == frozenset()


def test_bf16_is_refused_in_one_line_on_a_cpu_without_it(modnet_export, monkeypatch):
    from paddlematting.inference import precision
    _, folder = modnet_export
    monkeypatch.setattr(precision, 'cpu_flags', lambda path=precision.CPUINFO: frozenset({'avx2'}))
    for engine in (None, 'openvino', 'paddle_inference'):
        with pytest.raises(ValueError) as caught:
            Predictor(folder, device='cpu', engine=engine, precision='bf16')
        assert str(caught.value) == (
            '--precision bf16 needs a CPU with bfloat16 instructions (avx512_bf16 or amx_bf16 '
            'in /proc/cpuinfo), and this one reports neither; use --precision fp32.')
    assert Predictor(folder, device='cpu').precision == 'fp32'  # never the default
    with pytest.raises(ValueError, match=r"precision 'bf16' needs the openvino or "
                                         r"paddle_inference engine, not onnxruntime"):
        monkeypatch.setattr(precision, 'cpu_flags', lambda path=None: frozenset({'amx_bf16'}))
        Predictor(folder, device='cpu', engine='onnxruntime', precision='bf16')


def test_bf16_where_the_cpu_reports_it_runs_bf16_or_says_openvino_would_not(modnet_export,
                                                                          monkeypatch):
    """With the flag faked, the request reaches OpenVINO; on a CPU without bf16 OpenVINO
    would compile in f32, which is refused rather than run under the bf16 name."""
    from paddlematting.inference import precision
    model, folder = modnet_export
    really = bool(set(precision.BF16_CPU_FLAGS) & precision.cpu_flags())
    monkeypatch.setattr(precision, 'cpu_flags', lambda path=None: frozenset({'avx512_bf16'}))
    img = np.random.default_rng(5).uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
    if not really:
        with pytest.raises(ValueError, match=r'OpenVINO compiled .*model.onnx in f32, not bf16, '
                                             r'on this CPU: use --precision fp32'):
            Predictor(folder, device='cpu', precision='bf16')
        return
    predictor = Predictor(folder, device='cpu', precision='bf16')
    assert predictor.engine_name == 'openvino'
    diff = np.abs(predictor(img) - _dygraph(model, img))
    assert 0 < diff.max() < 0.5 and diff.mean() < 0.05  # bf16 keeps 8 bits of mantissa


def test_openvino_runs_one_stream_with_our_threads():
    from paddlematting.inference.openvino_engine import openvino_config
    assert openvino_config(3) == {'INFERENCE_NUM_THREADS': 3, 'NUM_STREAMS': 1,
                                  'PERFORMANCE_HINT': 'LATENCY',
                                  'INFERENCE_PRECISION_HINT': 'f32'}
    assert openvino_config(2, 'bf16')['INFERENCE_PRECISION_HINT'] == 'bf16'


def test_infer_script_refuses_bf16_in_one_line_without_loading(modnet_export, monkeypatch,
                                                               records, tmp_path):
    from test_inference_cli import _load_infer_script
    from paddlematting.inference import precision
    _, folder = modnet_export
    monkeypatch.setattr(precision, 'cpu_flags', lambda path=None: frozenset({'avx2'}))
    code = _load_infer_script().main(['--model_dir', folder, '--image_path', SHIPPED[0],
                                      '--save_dir', str(tmp_path / 'out'), '--device', 'cpu',
                                      '--precision', 'bf16'])
    assert code == 2
    assert [m for m in records if 'bf16' in m] == [
        '--precision bf16 needs a CPU with bfloat16 instructions (avx512_bf16 or amx_bf16 in '
        '/proc/cpuinfo), and this one reports neither; use --precision fp32.']
    assert not (tmp_path / 'out' / 'GT05_alpha.png').exists()


def test_a_stored_engine_not_installed_here_falls_back_to_paddle_inference(modnet_export,
                                                                           monkeypatch, records):
    import importlib.util
    from paddlematting.inference import predictor as predictor_module
    _, folder = modnet_export
    deploy = load_deploy_config(folder)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(predictor_module.importlib.util, 'find_spec',
                        lambda name, *a: None if name == 'openvino' else real_find_spec(name, *a))
    monkeypatch.setattr(predictor_module, 'load_deploy_config',
                        lambda f: dataclasses.replace(deploy, cpu_engine='openvino'))
    assert Predictor(folder, device='cpu').engine_name == 'paddle_inference'
    assert any('names openvino as its CPU engine, which is not installed here' in m
               for m in records)

"""export.py -> deploy/python/infer.py on a real image gives the dygraph model's matte (and a
composite with --background)."""
import importlib.util
import os

import cv2
import numpy as np
import paddle

from conftest import REAL_DATA_ROOT, REPO_ROOT
from paddlematting import Config
from paddlematting.cli.export import run as export_run
from paddlematting.pipeline.outputs import composite, cutout_foreground
from paddlematting.inference import DeployConfig, load_deploy_config, write_deploy_config
from paddlematting.builders import build_transforms
from paddlematting.pipeline import predict_alpha
from paddlematting.utils.image_io import read_alpha, read_image
from paddlematting.builders import Built

CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')
OPTS = ['model.backbone.pretrained=null',
        'val_dataset.transforms=[{type: LoadImages}, {type: ResizeByShort, short_size: 96}, '
        '{type: ResizeToIntMult, mult_int: 32}, {type: Normalize}]']


def _load_infer_script():
    path = os.path.join(REPO_ROOT, 'deploy', 'python', 'infer.py')
    spec = importlib.util.spec_from_file_location('deploy_infer', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_export_cli_then_infer_script_reproduce_dygraph(tmp_path):
    paddle.seed(1)
    cfg = Built(Config(CONFIG, opts=OPTS))
    model = cfg.model
    model.eval()
    weights = str(tmp_path / 'model.pdparams')
    paddle.save(model.state_dict(), weights)

    folder = export_run(['--config', CONFIG, '--model_path', weights, '--save_dir', str(tmp_path / 'exported'),
                          '--opts'] + OPTS)
    deploy = load_deploy_config(folder)
    assert deploy.transforms == cfg.config.val_dataset_config['transforms']
    assert deploy.model_type == 'MODNet' and deploy.input_names == ['img']

    image_path = os.path.join(REAL_DATA_ROOT, 'val', 'fg', 'GT05.png')
    save_dir = tmp_path / 'out'
    code = _load_infer_script().main(['--model_dir', folder, '--image_path', image_path,
                                      '--save_dir', str(save_dir), '--device', 'cpu', '--threads', '1'])
    assert code == 0
    written = read_alpha(str(save_dir / 'GT05_alpha.png'))
    image = read_image(image_path)
    assert written.shape == image.shape[:2]

    def dygraph(img, trimap=None):
        with paddle.no_grad():
            return model({'img': paddle.to_tensor(img)}).numpy()

    expected = predict_alpha(dygraph, image, None, build_transforms(deploy.transforms))
    assert np.abs(written.astype(np.float32) - expected * 255).max() <= 1.0
    assert os.path.isfile(save_dir / 'GT05_rgba.png')
    assert not os.path.exists(save_dir / 'GT05_composite.png')  # no --background given

    background_path = os.path.join(REAL_DATA_ROOT, 'bg', 'rocket.jpg')
    code = _load_infer_script().main(['--model_dir', folder, '--image_path', image_path,
                                      '--save_dir', str(tmp_path / 'with_bg'), '--device', 'cpu',
                                      '--threads', '1', '--background', background_path])
    assert code == 0
    alpha = read_alpha(str(tmp_path / 'with_bg' / 'GT05_alpha.png'))
    # the cut-out's colours: the foreground estimated under the alpha (blur fusion by default)
    np.testing.assert_array_equal(read_image(str(tmp_path / 'with_bg' / 'GT05_composite.png')),
                                  composite(cutout_foreground(image, alpha), alpha, read_image(background_path)))

    # a video through the exported model: one alpha frame per input frame, at the input's fps
    clip = str(tmp_path / 'clip.mp4')
    writer = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*'mp4v'), 5.0, (160, 112))
    for shift in (0, 8, 16):
        writer.write(cv2.resize(np.roll(image[:, :, ::-1], shift, axis=1), (160, 112)))
    writer.release()
    code = _load_infer_script().main(['--model_dir', folder, '--image_path', clip, '--save_dir',
                                      str(tmp_path / 'video'), '--device', 'cpu', '--threads', '1'])
    assert code == 0
    capture = cv2.VideoCapture(str(tmp_path / 'video' / 'clip_alpha.mp4'))
    assert capture.get(cv2.CAP_PROP_FPS) == 5.0
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 3


def test_infer_script_rejects_a_malformed_background_before_loading_the_model(tmp_path, records):
    # the model folder does not exist: reaching the Predictor would raise, not return 2
    code = _load_infer_script().main(['--model_dir', str(tmp_path / 'no_model'), '--image_path',
                                      str(tmp_path / 'no_images'), '--background', '1,2'])
    assert code == 2
    errors = [m for m in records if '--background' in m]
    assert len(errors) == 1 and "'1,2' is not a colour" in errors[0]


def _fake_export(folder, input_names):
    """A folder load_deploy_config accepts (empty model files) for a model with these inputs."""
    os.makedirs(folder)
    for name in ('model.json', 'model.pdiparams'):
        open(os.path.join(folder, name), 'wb').close()
    write_deploy_config(DeployConfig(folder=folder, model_file='model.json',
                                     params_file='model.pdiparams',
                                     transforms=[{'type': 'Normalize'}], input_names=input_names))
    return folder


def test_infer_script_asks_for_trimaps_before_building_the_predictor(tmp_path, records,
                                                                    monkeypatch):
    infer = _load_infer_script()

    def no_predictor(*args, **kwargs):
        raise AssertionError('the Predictor was built before the trimap check')

    monkeypatch.setattr(infer, 'Predictor', no_predictor)
    folder = _fake_export(str(tmp_path / 'dim_export'), ['img', 'trimap'])
    image_path = os.path.join(REAL_DATA_ROOT, 'val', 'fg', 'GT05.png')
    assert infer.main(['--model_dir', folder, '--image_path', image_path]) == 2
    assert any('needs a trimap' in m and folder in m for m in records)


def test_infer_script_exits_2_naming_a_model_dir_without_deploy_yaml(tmp_path, records):
    image_path = os.path.join(REAL_DATA_ROOT, 'val', 'fg', 'GT05.png')
    missing = str(tmp_path / 'no_model')
    assert _load_infer_script().main(['--model_dir', missing, '--image_path', image_path]) == 2
    assert any('deploy.yaml' in m and missing in m for m in records)

"""val/predict/export with --model_path: no download of the config's pretrained weights,
and export without --model_path says that it exports untrained weights."""
import os

import numpy as np
import paddle
import pytest

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import REAL_DATA_ROOT, REPO_ROOT, TEST_DATA_DIR
from paddlematting import Config
from paddlematting.cli import export as export_cli
from paddlematting.cli import predict as predict_cli
from paddlematting.cli import val as val_cli
from paddlematting.inference import export_checkpoint_cached, load_deploy_config
from paddlematting.utils.image_io import read_alpha, write_png
from paddlematting.utils.pretrained import pretrained_key_paths, without_pretrained
from paddlematting.builders import Built

DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'quick_start', 'modnet_mobilenetv2_demo.yml')
TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
# nothing listens on port 9 (discard): any attempt to download fails at once
UNREACHABLE = 'http://127.0.0.1:9/x.pdparams'
SMALL_VAL = ('val_dataset.transforms=[{type: LoadImages}, {type: ResizeByShort, short_size: 32}, '
             '{type: ResizeToIntMult, mult_int: 32}, {type: Normalize}]')
OFFLINE_OPTS = [f'model.backbone.pretrained={UNREACHABLE}', f'model.pretrained={UNREACHABLE}',
                f'val_dataset.dataset_root={REAL_DATA_ROOT}', SMALL_VAL]


@pytest.fixture(scope='module')
def local_weights(tmp_path_factory):
    """A MODNet-MobileNetV2 state dict saved to a local file (built without any download)."""
    paddle.seed(0)
    model = Built(Config(DEMO_CONFIG, opts=['model.backbone.pretrained=null'])).model
    path = str(tmp_path_factory.mktemp('weights') / 'model.pdparams')
    paddle.save(model.state_dict(), path)
    return path


def test_the_unreachable_url_really_fails_to_build():
    """Guards the tests below: building with the URL needs the network."""
    with pytest.raises(Exception, match='127.0.0.1:9'):
        Built(Config(DEMO_CONFIG, opts=OFFLINE_OPTS)).model


def test_pretrained_keys_are_found_and_nulled():
    section = {'type': 'M', 'pretrained': 'a', 'backbone': {'type': 'B', 'pretrained': 'b'},
               'head': {'pretrained': None}, 'blocks': [{'pretrained': 'c'}]}
    assert pretrained_key_paths(section) == ['model.pretrained', 'model.backbone.pretrained']
    nulled = without_pretrained(section)
    assert nulled['pretrained'] is None and nulled['backbone']['pretrained'] is None
    assert nulled['blocks'][0]['pretrained'] is None
    assert section['backbone']['pretrained'] == 'b'  # the input is left as it was


def test_predict_with_model_path_works_offline(local_weights, tmp_path):
    write_png(str(tmp_path / 'in' / 'p.png'), np.full((40, 56, 3), 90, np.uint8))
    code = predict_cli.main(['--config', DEMO_CONFIG, '--device', 'cpu', '--backend', 'dygraph',
                             '--model_path', local_weights, '--image_path',
                             str(tmp_path / 'in'), '--save_dir', str(tmp_path / 'out'),
                             '--opts', *OFFLINE_OPTS])
    assert code == 0
    assert read_alpha(str(tmp_path / 'out' / 'p_alpha.png')).shape == (40, 56)


def test_val_with_model_path_works_offline(local_weights, tmp_path):
    code = val_cli.main(['--config', DEMO_CONFIG, '--device', 'cpu', '--backend', 'dygraph',
                         '--model_path', local_weights, '--metrics', 'sad', '--save_dir',
                         str(tmp_path), '--opts', *OFFLINE_OPTS])
    assert code == 0
    assert os.path.isfile(tmp_path / 'metrics_per_image.csv')


def test_export_cli_with_model_path_works_offline(local_weights, tmp_path, records):
    folder = export_cli.run(['--config', DEMO_CONFIG, '--model_path', local_weights,
                             '--save_dir', str(tmp_path / 'exported'), '--opts', *OFFLINE_OPTS])
    assert load_deploy_config(folder).model_type == 'MODNet'
    assert not any('No --model_path' in m for m in records)


def test_export_cache_with_model_path_works_offline(local_weights, tmp_path):
    cfg = Config(DEMO_CONFIG, opts=OFFLINE_OPTS)
    folder = export_checkpoint_cached(cfg, local_weights, cache_dir=str(tmp_path / 'cache'))
    assert load_deploy_config(folder).model_type == 'MODNet'


def test_export_without_model_path_warns_about_untrained_weights(tmp_path, records):
    folder = export_cli.run(['--config', TINY_CONFIG, '--save_dir', str(tmp_path / 'exported')])
    assert os.path.isdir(folder)
    warning = [m for m in records if 'No --model_path' in m]
    assert len(warning) == 1 and 'random' in warning[0] and TINY_CONFIG in warning[0]


def test_val_and_predict_without_model_path_warn_on_either_backend(tmp_path, records,
                                                                   monkeypatch):
    from paddlematting.cli.common import build_runner
    monkeypatch.setenv('PADDLEMATTING_EXPORT_CACHE', str(tmp_path / 'cache'))
    for backend in ('dygraph', 'inference'):
        records.clear()
        _, used = build_runner(Config(TINY_CONFIG), None, 'cpu', backend)
        assert used == backend
        assert sum('No --model_path' in m for m in records) == 1, backend

"""A zoo model by name end to end, its weights served from 127.0.0.1: downloaded once into the
checked cache, read from there afterwards, a wrong sha256 refused, offline one line naming the
URL and where to place the file; ``Matting(NAME)`` alone equals predict.py's output; the
default chain runs its refiner; predict.py and val.py take ``--model NAME``.

The test zoo ($PADDLEMATTING_ZOO) points MODNet-MobileNetV2's name at deterministic weights
(paddle.seed(0), saved with paddle.save) and at the quick-start config (the same network, a
256-pixel short side, so the runs stay short)."""
import os

import numpy as np
import paddle
import pytest

import paddlematting as pm
from paddlematting import Config, zoo
from paddlematting.builders import Built
from paddlematting.cli import predict as predict_cli
from paddlematting.cli import val as val_cli
from paddlematting.utils.download import DownloadError, file_sha256
from paddlematting.utils.image_io import read_alpha, read_image, write_png

from conftest import REAL_DATA_ROOT, REPO_ROOT, write_yaml
from local_http_server import closed_port_url, serve_folder

DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'quick_start', 'modnet_mobilenetv2_demo.yml')
NAME = 'modnet-mobilenetv2'


def _entry(url, sha256):
    return {'config': DEMO_CONFIG, 'weights': url, 'sha256': sha256, 'licence': 'test',
            'commercial': 'test', 'task': 'portrait', 'input_size': 'short side 256'}


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    """(base URL, requested paths, zoo file, local weights file, sha256) for the module."""
    www = tmp_path_factory.mktemp('www')
    paddle.seed(0)
    model = Built(Config(DEMO_CONFIG, opts=['model.backbone.pretrained=null'])).model
    weights = str(www / 'modnet.pdparams')
    paddle.save(model.state_dict(), weights)
    (www / 'copy.pdparams').write_bytes((www / 'modnet.pdparams').read_bytes())
    digest = file_sha256(weights)
    with serve_folder(str(www)) as (base, requests):
        zoo_file = write_yaml(tmp_path_factory.mktemp('zoo') / 'zoo.yml', {
            'defaults': {'model': NAME, 'refiner': 'closed-form'},
            'models': {NAME: _entry(f'{base}/modnet.pdparams', digest),
                       'modnet-wrong-sha': _entry(f'{base}/copy.pdparams', '0' * 64),
                       'modnet-offline': _entry(closed_port_url('modnet.pdparams'), digest)}})
        yield base, requests, zoo_file, weights, digest


@pytest.fixture
def test_zoo(served, tmp_path_factory, monkeypatch):
    monkeypatch.setenv(zoo.ZOO_ENV, served[2])
    monkeypatch.setenv('PADDLEMATTING_HOME', str(tmp_path_factory.getbasetemp() / 'cache_home'))
    return served


@pytest.fixture(scope='module')
def photo():
    image = read_image(os.path.join(REAL_DATA_ROOT, 'val', 'fg', 'GT05.png'))[:200, 200:460]
    truth = read_alpha(os.path.join(REAL_DATA_ROOT, 'val', 'alpha', 'GT05.png'))[:200, 200:460]
    return image, truth


def test_remove_by_name_downloads_once_then_reads_the_cache(test_zoo, photo):
    base, requests, _, _, digest = test_zoo
    url = f'{base}/modnet.pdparams'
    cached = zoo.cached_weights_path(url)
    before = requests.count('/modnet.pdparams')
    rgba = pm.remove(photo[0], model=NAME)
    assert rgba.shape == photo[0].shape[:2] + (4,) and rgba.dtype == np.uint8
    assert os.path.isfile(cached) and file_sha256(cached) == digest
    assert requests.count('/modnet.pdparams') == before + (0 if before else 1)
    downloads = requests.count('/modnet.pdparams')
    again = pm.remove(photo[0], model=NAME)  # a fresh Matting: the weights come from the cache
    assert requests.count('/modnet.pdparams') == downloads
    np.testing.assert_array_equal(again, rgba)


def test_wrong_sha256_is_refused_and_nothing_is_cached(test_zoo, photo):
    base, requests, *_ = test_zoo
    url = f'{base}/copy.pdparams'
    with pytest.raises(DownloadError) as caught:
        pm.remove(photo[0], model='modnet-wrong-sha')
    message = str(caught.value)
    assert '\n' not in message and 'sha256' in message and url in message
    assert f'place it at {zoo.cached_weights_path(url)}' in message
    assert '/copy.pdparams' in requests
    cache_dir = os.path.dirname(zoo.cached_weights_path(url))
    assert not os.path.exists(zoo.cached_weights_path(url))
    assert not [n for n in os.listdir(cache_dir) if n.endswith('.part')]


def test_offline_says_where_to_place_the_file(test_zoo, photo):
    entry = zoo.load_zoo().get('modnet-offline')
    with pytest.raises(DownloadError) as caught:
        pm.Matting('modnet-offline').alpha(photo[0])
    message = str(caught.value)
    assert '\n' not in message
    assert f'download {entry.weights} yourself and place it at {zoo.cached_weights_path(entry.weights)}' in message


def test_model_alone_equals_predict_py(test_zoo, photo, tmp_path):
    """Matting(NAME) runs that model alone, as predict.py does: the same matte and cut-out."""
    write_png(str(tmp_path / 'in' / 'p.png'), photo[0])
    code = predict_cli.main(['--model', NAME, '--device', 'cpu', '--backend', 'dygraph',
                             '--image_path', str(tmp_path / 'in' / 'p.png'),
                             '--save_dir', str(tmp_path / 'out')])
    assert code == 0
    matting = pm.Matting(NAME, settings=pm.MattingSettings(device='cpu'))
    expected_alpha = read_alpha(str(tmp_path / 'out' / 'p_alpha.png'))
    np.testing.assert_array_equal(np.round(matting.alpha(photo[0]) * 255).astype(np.uint8), expected_alpha)
    rgba = matting.remove(photo[0])
    written = read_image(str(tmp_path / 'out' / 'p_rgba.png'))
    np.testing.assert_array_equal(rgba[:, :, 3], expected_alpha)
    np.testing.assert_array_equal(rgba[:, :, :3], written)


def test_local_weights_replace_the_zoo_url(test_zoo, photo, tmp_path):
    base, requests, _, weights, _ = test_zoo
    seen = len(requests)
    by_file = pm.Matting(NAME, weights=weights).alpha(photo[0])
    assert len(requests) == seen  # nothing fetched
    np.testing.assert_array_equal(by_file, pm.Matting(NAME).alpha(photo[0]))
    code = val_cli.main(['--model', NAME, '--weights', weights, '--device', 'cpu', '--backend',
                         'dygraph', '--save_dir', str(tmp_path / 'val'), '--metrics', 'sad'])
    assert code == 0 and os.path.isfile(tmp_path / 'val' / 'metrics_per_image.csv')
    assert len(requests) == seen
    by_config = pm.Matting(DEMO_CONFIG, weights=weights).alpha(photo[0])  # a config path works too
    np.testing.assert_array_equal(by_config, by_file)


def test_default_chain_runs_its_refiner(test_zoo, photo):
    """No model named: the zoo's default segmenter and refiner (the test zoo: MODNet, then
    closed-form). With a mask the segmenter is skipped and the default refiner runs."""
    image, truth = photo
    coarse = truth > 127
    default = pm.Matting().alpha(image, mask=coarse)
    np.testing.assert_array_equal(default, pm.Matting(refiner='closed-form').alpha(image, mask=coarse))
    assert np.abs(default - coarse).max() > 0.3  # the refiner changed the band
    without_mask = pm.Matting().remove(image)  # the default segmenter, then the refiner
    assert without_mask.shape == image.shape[:2] + (4,)


def test_predict_py_needs_config_or_model(test_zoo, tmp_path):
    code = predict_cli.main(['--image_path', str(tmp_path), '--save_dir', str(tmp_path / 'o')])
    assert code == 2
    code = predict_cli.main(['--model', 'modnet-mobilenet', '--image_path', str(tmp_path),
                             '--save_dir', str(tmp_path / 'o')])
    assert code == 2

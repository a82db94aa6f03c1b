"""Downloads cannot poison the cache: plain http is refused unless allowed, files are checked
(length, sha256, loads as a state dict) before entering the cache, a stalled server fails
fast with a clear message, and missing weights are not blamed on the inference backend."""
import hashlib
import io
import os
import tarfile
import urllib.request

import numpy as np
import paddle
import pytest

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import TEST_DATA_DIR
from local_http_server import serve_folder, stalled_server
from paddlematting import Config
from paddlematting.cli.common import build_runner
from paddlematting.utils.download import (DownloadError, InsecureURLError, cached_download,
                                          split_checksum)
from paddlematting.utils.pretrained import load_pretrained_weights
from paddlematting.utils.weights_io import WeightsFormatError

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    home = tmp_path / 'cache'
    monkeypatch.setenv('PADDLEMATTING_HOME', str(home))
    for var in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY',
                'PADDLEMATTING_ALLOW_HTTP', 'PADDLEMATTING_DOWNLOAD_TIMEOUT'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    return home


@pytest.fixture
def www(tmp_path):
    folder = tmp_path / 'www'
    folder.mkdir()
    paddle.seed(0)
    paddle.save(core_plugin.CoreTestNet().state_dict(), str(folder / 'w.pdparams'))
    return folder


def _cached_files(home):
    return sorted(os.listdir(home)) if os.path.isdir(home) else []


def test_plain_http_is_refused_unless_allowed(www, isolated_cache, monkeypatch):
    with serve_folder(str(www)) as (base, requests):
        with pytest.raises(InsecureURLError, match='PADDLEMATTING_ALLOW_HTTP=1'):
            load_pretrained_weights(core_plugin.CoreTestNet(), base + '/w.pdparams')
        assert requests == []  # refused before any connection
        monkeypatch.setenv('PADDLEMATTING_ALLOW_HTTP', '1')
        load_pretrained_weights(core_plugin.CoreTestNet(), base + '/w.pdparams', strict=True)
        assert requests == ['/w.pdparams']


def test_a_pinned_sha256_allows_http_and_is_verified(www, isolated_cache):
    digest = hashlib.sha256((www / 'w.pdparams').read_bytes()).hexdigest()
    with serve_folder(str(www)) as (base, requests):
        net = core_plugin.CoreTestNet()
        load_pretrained_weights(net, f'{base}/w.pdparams#sha256={digest}', strict=True)
        wrong = '0' * 64
        with pytest.raises(DownloadError) as info:
            load_pretrained_weights(net, f'{base}/w.pdparams#sha256={wrong}')
        # the cached copy is re-checked against the new pin and named for deletion
        assert 'delete' in str(info.value) and str(isolated_cache) in str(info.value)
        other = www / 'other.pdparams'
        other.write_bytes((www / 'w.pdparams').read_bytes())
        with pytest.raises(DownloadError, match='sha256'):
            cached_download(f'{base}/other.pdparams#sha256={wrong}', progress=False)
    assert not any('other' in name for name in _cached_files(isolated_cache))
    with pytest.raises(ValueError, match='sha256=<64 hex'):
        split_checksum('https://x/y.pdparams#md5=abc')


def test_truncated_download_without_content_length_never_enters_the_cache(www, isolated_cache,
                                                                          monkeypatch):
    monkeypatch.setenv('PADDLEMATTING_ALLOW_HTTP', '1')
    with serve_folder(str(www), truncate_to=300, omit_length=True) as (base, requests):
        with pytest.raises(DownloadError, match='not usable'):
            load_pretrained_weights(core_plugin.CoreTestNet(), base + '/w.pdparams')
    assert _cached_files(isolated_cache) == []
    # the next run downloads again (nothing was cached), and a full file then loads
    with serve_folder(str(www)) as (base, requests):
        load_pretrained_weights(core_plugin.CoreTestNet(), base + '/w.pdparams', strict=True)
        assert requests == ['/w.pdparams']


def test_truncated_archive_without_content_length_never_enters_the_cache(www, isolated_cache,
                                                                         monkeypatch):
    monkeypatch.setenv('PADDLEMATTING_ALLOW_HTTP', '1')
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tf:
        tf.add(str(www / 'w.pdparams'), arcname='m/model.pdparams')
        noise = np.random.default_rng(0).bytes(100_000)
        info = tarfile.TarInfo('m/noise.bin')
        info.size = len(noise)
        tf.addfile(info, io.BytesIO(noise))
    (www / 'm.tar.gz').write_bytes(buf.getvalue())
    with serve_folder(str(www), truncate_to=len(buf.getvalue()) // 2, omit_length=True) as (base, _):
        with pytest.raises(DownloadError, match='not usable'):
            load_pretrained_weights(core_plugin.CoreTestNet(), base + '/m.tar.gz')
    assert _cached_files(isolated_cache) == []


def test_a_corrupt_cached_file_is_named_for_deletion(www, isolated_cache, monkeypatch):
    monkeypatch.setenv('PADDLEMATTING_ALLOW_HTTP', '1')
    with serve_folder(str(www)) as (base, _):
        path = cached_download(base + '/w.pdparams', progress=False)
        with open(path, 'r+b') as f:
            f.truncate(200)
        with pytest.raises(WeightsFormatError) as info:
            load_pretrained_weights(core_plugin.CoreTestNet(), base + '/w.pdparams')
    assert f'delete {path}' in str(info.value)


def test_a_stalled_server_times_out_quickly_with_a_clear_message(isolated_cache, monkeypatch):
    monkeypatch.setenv('PADDLEMATTING_ALLOW_HTTP', '1')
    monkeypatch.setenv('PADDLEMATTING_DOWNLOAD_TIMEOUT', '1')
    timeouts = []
    real_open = urllib.request.OpenerDirector.open

    def counting_open(self, url, *args, timeout=None, **kwargs):  # one call is one attempt
        timeouts.append(timeout)
        return real_open(self, url, *args, timeout=timeout, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, 'open', counting_open)
    with stalled_server() as url:
        with pytest.raises(DownloadError) as info:
            load_pretrained_weights(core_plugin.CoreTestNet(), url)
    assert timeouts == [1]  # one attempt with the configured timeout: no retries of a stall
    assert 'sent nothing for 1 s' in str(info.value) and 'PADDLEMATTING_DOWNLOAD_TIMEOUT' in str(info.value)
    assert _cached_files(isolated_cache) == []


@pytest.mark.parametrize('model_path', ['missing.pdparams', 'stalled'])
def test_missing_or_undownloadable_weights_do_not_fall_back_to_dygraph(tmp_path, records,
                                                                       monkeypatch, model_path):
    monkeypatch.setenv('PADDLEMATTING_EXPORT_CACHE', str(tmp_path / 'exports'))
    monkeypatch.setenv('PADDLEMATTING_ALLOW_HTTP', '1')
    monkeypatch.setenv('PADDLEMATTING_DOWNLOAD_TIMEOUT', '1')
    with stalled_server() as url:
        path = url if model_path == 'stalled' else str(tmp_path / model_path)
        with pytest.raises((FileNotFoundError, DownloadError)):
            build_runner(Config(TINY_CONFIG), path, 'cpu', 'inference')
    assert not any('falling back' in m for m in records)

"""The download cache: one request per URL, atomic writes, archives, clear network errors."""
import io
import os
import tarfile
import urllib.request
import zipfile

import pytest

from local_http_server import closed_port_url, serve_folder
from paddlematting.utils import download
from paddlematting.utils.download import DownloadError, cached_download


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Point the cache at tmp_path and keep any proxy away from 127.0.0.1."""
    home = tmp_path / 'cache'
    monkeypatch.setenv('PADDLEMATTING_HOME', str(home))
    for var in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    # the local test server speaks plain http (test_utils_download_safety checks the refusal)
    monkeypatch.setenv('PADDLEMATTING_ALLOW_HTTP', '1')
    return home


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / 'www'
    folder.mkdir()
    with serve_folder(str(folder)) as (base_url, requests):
        yield folder, base_url, requests


def test_cache_home_follows_the_environment(isolated_cache, monkeypatch):
    assert download.cache_home() == str(isolated_cache)
    monkeypatch.delenv('PADDLEMATTING_HOME')
    assert download.cache_home() == os.path.join(os.path.expanduser('~'), '.cache', 'paddlematting')


def test_same_base_name_on_two_urls_gets_two_cache_files():
    a = download.cache_file_name('http://a.example/x/model.pdparams')
    b = download.cache_file_name('http://b.example/y/model.pdparams')
    assert a != b
    assert a.endswith('-model.pdparams') and b.endswith('-model.pdparams')
    # query strings never reach the file system
    assert '?' not in download.cache_file_name('http://a.example/w.tar.gz?sig=1&x=2')


def test_first_call_downloads_second_call_hits_the_cache(served, isolated_cache):
    folder, base_url, requests = served
    payload = os.urandom(200_000)
    (folder / 'weights.pdparams').write_bytes(payload)
    url = base_url + '/weights.pdparams'

    first = cached_download(url, progress=False)
    assert requests == ['/weights.pdparams']
    assert os.path.dirname(first) == str(isolated_cache)
    with open(first, 'rb') as f:
        assert f.read() == payload

    second = cached_download(url, progress=False)
    assert second == first
    assert len(requests) == 1
    # nothing temporary is left beside the cached file
    assert os.listdir(isolated_cache) == [os.path.basename(first)]


def test_explicit_cache_dir_is_used(served, tmp_path):
    folder, base_url, _ = served
    (folder / 'w.pdparams').write_bytes(b'abc')
    path = cached_download(base_url + '/w.pdparams', cache_dir=str(tmp_path / 'elsewhere'),
                           progress=False)
    assert os.path.dirname(path) == str(tmp_path / 'elsewhere')


def _tar_gz_bytes(files: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize('kind', ['tar.gz', 'zip'])
def test_archive_is_unpacked_once_into_a_folder_named_after_it(served, isolated_cache, kind):
    folder, base_url, requests = served
    files = {'resnet/model.pdparams': b'weights', 'resnet/notes.txt': b'hi'}
    if kind == 'zip':
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, 'w') as zf:
            for name, data in files.items():
                zf.writestr(name, data)
        data = buf.getvalue()
    else:
        data = _tar_gz_bytes(files)
    (folder / f'resnet.{kind}').write_bytes(data)
    url = f'{base_url}/resnet.{kind}'

    unpacked = cached_download(url, extract=True, progress=False)
    assert os.path.isdir(unpacked)
    assert os.path.basename(unpacked) == download.cache_file_name(url)[:-len(kind) - 1]
    with open(os.path.join(unpacked, 'resnet', 'model.pdparams'), 'rb') as f:
        assert f.read() == b'weights'
    assert not [n for n in os.listdir(isolated_cache) if n.endswith('.part')]

    assert cached_download(url, extract=True, progress=False) == unpacked
    assert len(requests) == 1


def test_archive_member_escaping_the_folder_is_refused(tmp_path):
    archive = tmp_path / 'evil.tar.gz'
    archive.write_bytes(_tar_gz_bytes({'../escaped.txt': b'x'}))
    with pytest.raises(ValueError, match='evil.tar.gz'):
        download.extract_archive(str(archive), str(tmp_path / 'out'))
    assert not (tmp_path / 'escaped.txt').exists()
    # neither the target nor a staging folder survives the failure
    assert sorted(os.listdir(tmp_path)) == ['evil.tar.gz']


def _tar_with_link(path, name, linkname, kind=tarfile.SYMTYPE):
    with tarfile.open(path, 'w:gz') as tf:
        info = tarfile.TarInfo('ok/model.pdparams')
        info.size = 1
        tf.addfile(info, io.BytesIO(b'w'))
        link = tarfile.TarInfo(name)
        link.type = kind
        link.linkname = linkname
        tf.addfile(link)


@pytest.mark.parametrize('filters', [True, False], ids=['data_filter', 'no_filters'])
def test_tar_checks_hold_with_and_without_extraction_filters(tmp_path, monkeypatch, filters):
    """Pythons without tarfile's 'data' filter (before 3.10.12) get the same refusals."""
    if not filters:
        monkeypatch.delattr(tarfile, 'data_filter')
    (tmp_path / 'escape.tar.gz').write_bytes(_tar_gz_bytes({'../escaped.txt': b'x'}))
    _tar_with_link(tmp_path / 'symlink.tar.gz', 'ok/link', '../../outside')
    _tar_with_link(tmp_path / 'hardlink.tar.gz', 'ok/hard', '../outside', tarfile.LNKTYPE)
    for name in ('escape.tar.gz', 'symlink.tar.gz', 'hardlink.tar.gz'):
        with pytest.raises(ValueError, match=name):
            download.extract_archive(str(tmp_path / name), str(tmp_path / 'out'))
        assert not (tmp_path / 'out').exists()
    # a link staying inside the folder is fine
    _tar_with_link(tmp_path / 'inside.tar.gz', 'ok/alias', 'model.pdparams')
    out = download.extract_archive(str(tmp_path / 'inside.tar.gz'), str(tmp_path / 'out'))
    with open(os.path.join(out, 'ok', 'alias'), 'rb') as f:
        assert f.read() == b'w'


def test_extract_of_a_plain_file_url_is_refused():
    with pytest.raises(ValueError, match='archive'):
        cached_download('http://127.0.0.1:1/model.pdparams', extract=True)


def _count_connection_attempts(monkeypatch):
    """Record the timeout of every opener.open call (each is one attempt to connect)."""
    timeouts = []
    real_open = urllib.request.OpenerDirector.open

    def counting_open(self, url, *args, timeout=None, **kwargs):
        timeouts.append(timeout)
        return real_open(self, url, *args, timeout=timeout, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, 'open', counting_open)
    return timeouts


def test_unreachable_url_fails_fast_with_a_clear_message(isolated_cache, monkeypatch):
    # "fast" as bounded work, not wall time: the attempts asked for, each with its timeout,
    # and back-off sleeps that stay short (recorded, not slept)
    timeouts = _count_connection_attempts(monkeypatch)
    sleeps = []
    monkeypatch.setattr(download.time, 'sleep', sleeps.append)
    url = closed_port_url()
    with pytest.raises(DownloadError) as info:
        cached_download(url, retries=2, timeout=2, progress=False)
    assert timeouts == [2, 2]
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 1
    message = str(info.value)
    assert url in message and 'local path' in message
    assert not os.path.exists(isolated_cache) or os.listdir(isolated_cache) == []


def test_missing_file_on_the_server_is_not_retried(served, isolated_cache):
    _, base_url, requests = served
    with pytest.raises(DownloadError, match='404'):
        cached_download(base_url + '/absent.pdparams', retries=3, progress=False)
    assert requests == ['/absent.pdparams']
    assert os.listdir(isolated_cache) == []


def test_interrupted_download_leaves_no_file_in_the_cache(served, isolated_cache, monkeypatch):
    folder, base_url, _ = served
    (folder / 'w.pdparams').write_bytes(b'0123456789')

    def killed(url, dest, *args):
        with open(dest, 'wb') as f:
            f.write(b'01234')
        raise KeyboardInterrupt

    monkeypatch.setattr(download, '_fetch', killed)
    with pytest.raises(KeyboardInterrupt):
        cached_download(base_url + '/w.pdparams', progress=False)
    assert os.listdir(isolated_cache) == []


def test_truncated_download_is_retried_then_reported(tmp_path, isolated_cache):
    www = tmp_path / 'short'
    www.mkdir()
    (www / 'w.pdparams').write_bytes(b'x' * 5000)
    with serve_folder(str(www), truncate_to=1000) as (base_url, requests):
        with pytest.raises(DownloadError, match='w.pdparams'):
            cached_download(base_url + '/w.pdparams', retries=2, progress=False)
        assert len(requests) == 2
    assert os.listdir(isolated_cache) == []

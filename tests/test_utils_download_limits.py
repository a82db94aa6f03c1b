"""Download limits, each on a server on 127.0.0.1: the size cap (with and without a
Content-Length), the overall deadline against a trickling server, redirects re-checked hop by
hop (an https server with a self-signed certificate made here, trusted through
PADDLEMATTING_CA_BUNDLE), archive caps and member checks, and SIGTERM mid-download; after
every failure the cache holds nothing."""
import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import time

import paddle
import pytest

import core_plugin
from conftest import REPO_ROOT
from crafted_weights import CRAFTED
from local_http_server import self_signed_certificate, serve_folder
from paddlematting.utils.download import (DownloadError, DownloadRefused, InsecureURLError,
                                          cache_file_name, cached_download)
from paddlematting.utils.pretrained import load_pretrained_weights


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    home = tmp_path / 'cache'
    monkeypatch.setenv('PADDLEMATTING_HOME', str(home))
    for var in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY',
                'PADDLEMATTING_DOWNLOAD_TIMEOUT', 'PADDLEMATTING_DOWNLOAD_DEADLINE',
                'PADDLEMATTING_DOWNLOAD_MAX_MB', 'PADDLEMATTING_ARCHIVE_MAX_MEMBERS',
                'PADDLEMATTING_CA_BUNDLE'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('no_proxy', '127.0.0.1')
    monkeypatch.setenv('PADDLEMATTING_ALLOW_HTTP', '1')
    return home


def _cache_entries(home):
    return sorted(os.listdir(home)) if os.path.isdir(home) else []


@pytest.fixture
def www(tmp_path):
    folder = tmp_path / 'www'
    folder.mkdir()
    (folder / 'big.bin').write_bytes(os.urandom(3 << 20))
    paddle.seed(0)
    paddle.save(core_plugin.CoreTestNet().state_dict(), str(folder / 'w.pdparams'))
    return folder


@pytest.mark.parametrize('omit_length', [False, True], ids=['content_length', 'no_length'])
def test_the_size_cap_stops_a_large_download(www, isolated_cache, monkeypatch, omit_length):
    monkeypatch.setenv('PADDLEMATTING_DOWNLOAD_MAX_MB', '1')
    with serve_folder(str(www), omit_length=omit_length) as (base, requests):
        with pytest.raises(DownloadRefused) as info:
            cached_download(base + '/big.bin', progress=False)
        assert requests == ['/big.bin']  # not retried
    message = str(info.value)
    assert 'over the 1,048,576-byte limit' in message and 'PADDLEMATTING_DOWNLOAD_MAX_MB' in message
    # with a Content-Length it is refused before the body; without, once the cap is passed
    assert message.split('the download is ')[1].startswith('3,145,728' if not omit_length else '1,')
    assert _cache_entries(isolated_cache) == []


@pytest.mark.timeout(60)
def test_the_deadline_stops_a_trickling_server(www, isolated_cache, monkeypatch):
    """One byte every 0.05 s never trips the 20 s read timeout; the 1 s deadline stops it."""
    monkeypatch.setenv('PADDLEMATTING_DOWNLOAD_DEADLINE', '1')
    with serve_folder(str(www), trickle_seconds=0.05) as (base, requests):
        with pytest.raises(DownloadRefused, match='longer than 1 s') as info:
            cached_download(base + '/w.pdparams', progress=False)
        assert requests == ['/w.pdparams']
    assert 'PADDLEMATTING_DOWNLOAD_DEADLINE' in str(info.value)
    assert _cache_entries(isolated_cache) == []


@pytest.fixture(scope='module')
def certificate(tmp_path_factory):
    return self_signed_certificate(str(tmp_path_factory.mktemp('tls')))


def test_https_with_a_trusted_self_signed_certificate(www, certificate, isolated_cache, monkeypatch):
    with serve_folder(str(www), tls=certificate) as (base, requests):
        assert base.startswith('https://')
        with pytest.raises(DownloadError, match='CERTIFICATE_VERIFY_FAILED'):  # not trusted yet
            cached_download(base + '/w.pdparams', retries=1, progress=False)
        monkeypatch.setenv('PADDLEMATTING_CA_BUNDLE', certificate[0])
        path = cached_download(base + '/w.pdparams', progress=False)
    assert open(path, 'rb').read() == (www / 'w.pdparams').read_bytes()


def test_redirects_are_checked_hop_by_hop(www, certificate, isolated_cache, monkeypatch):
    monkeypatch.setenv('PADDLEMATTING_CA_BUNDLE', certificate[0])
    with serve_folder(str(www)) as (plain, plain_requests):
        redirects = {'/to_http.pdparams': plain + '/w.pdparams',
                     '/to_ftp.pdparams': 'ftp://127.0.0.1/w.pdparams',
                     '/to_https.pdparams': '/w.pdparams'}
        with serve_folder(str(www), redirects=redirects, tls=certificate) as (secure, requests):
            # https never becomes http, not even with PADDLEMATTING_ALLOW_HTTP=1
            with pytest.raises(InsecureURLError, match='never continues over plain http'):
                cached_download(secure + '/to_http.pdparams', progress=False)
            assert plain_requests == []
            with pytest.raises(InsecureURLError, match=r'only http\(s\) redirects'):
                cached_download(secure + '/to_ftp.pdparams', progress=False)
            path = cached_download(secure + '/to_https.pdparams', progress=False)
            assert open(path, 'rb').read() == (www / 'w.pdparams').read_bytes()
    assert _cache_entries(isolated_cache) == [os.path.basename(path)]


def test_an_http_hop_follows_the_allow_http_rule(www, isolated_cache, monkeypatch):
    with serve_folder(str(www)) as (target, target_requests):
        with serve_folder(str(www), redirects={'/r.pdparams': target + '/w.pdparams'}) as (base, _):
            monkeypatch.delenv('PADDLEMATTING_ALLOW_HTTP')
            digest = hashlib.sha256((www / 'w.pdparams').read_bytes()).hexdigest()
            # a pinned sha256 protects every hop; without it the first URL is refused at once
            path = cached_download(f'{base}/r.pdparams#sha256={digest}', progress=False)
            assert target_requests == ['/w.pdparams']
            with pytest.raises(InsecureURLError, match='PADDLEMATTING_ALLOW_HTTP=1'):
                cached_download(base + '/r.pdparams', progress=False)
    assert _cache_entries(isolated_cache) == [os.path.basename(path)]


def _tar_gz(path, members):
    with tarfile.open(path, 'w:gz') as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize('kind', ['members', 'bomb', 'crafted_member'])
def test_archives_past_their_caps_or_with_a_bad_member_are_not_kept(www, isolated_cache,
                                                                   monkeypatch, kind):
    weights = (www / 'w.pdparams').read_bytes()
    if kind == 'members':
        monkeypatch.setenv('PADDLEMATTING_ARCHIVE_MAX_MEMBERS', '10')
        members = {f'm/{i}.txt': b'x' for i in range(11)}
        expected, error = 'more than 10 members', DownloadRefused
    elif kind == 'bomb':  # 40 MB of zeros, about 40 KB packed
        members = {'m/model.pdparams': weights, 'm/zeros.bin': bytes(40 << 20)}
        expected, error = 'would unpack to more than', DownloadRefused
    else:
        members = {'m/model.pdparams': CRAFTED['dag'][0], 'm/notes.txt': b'hi'}
        expected, error = 'its member m/model.pdparams is not usable', DownloadRefused
    _tar_gz(www / 'a.tar.gz', members)
    with serve_folder(str(www)) as (base, requests):
        with pytest.raises(error) as info:
            load_pretrained_weights(core_plugin.CoreTestNet(), base + '/a.tar.gz')
        assert requests == ['/a.tar.gz']  # refusals are not retried
    assert expected in str(info.value) and '\n' not in str(info.value)
    assert _cache_entries(isolated_cache) == []
    # a good archive of the same weights loads and is kept
    _tar_gz(www / 'good.tar.gz', {'m/model.pdparams': weights})
    with serve_folder(str(www)) as (base, _):
        load_pretrained_weights(core_plugin.CoreTestNet(), base + '/good.tar.gz', strict=True)
    assert len(_cache_entries(isolated_cache)) == 2  # the archive and its folder


_DOWNLOAD_SCRIPT = '''
import sys
from paddlematting.utils.download import cached_download
cached_download(sys.argv[1], progress=False)
'''


@pytest.mark.timeout(120)
def test_sigterm_during_a_download_leaves_nothing_in_the_cache(www, isolated_cache):
    with serve_folder(str(www), trickle_seconds=0.01) as (base, requests):
        proc = subprocess.Popen([sys.executable, '-c', _DOWNLOAD_SCRIPT, base + '/w.pdparams'],
                                cwd=REPO_ROOT, env=dict(os.environ), stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 90
            # wait until the download has started writing its temporary file
            while not [n for n in _cache_entries(isolated_cache) if n.endswith('.part')]:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            status = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert status == -signal.SIGTERM  # it still dies of the signal
    assert _cache_entries(isolated_cache) == []


def test_temporary_files_of_killed_downloads_are_swept(www, isolated_cache, monkeypatch):
    """SIGKILL leaves a .part behind: the next download of that file removes it once it is
    older than the deadline (no live download can own it); a fresh one is left alone."""
    monkeypatch.setenv('PADDLEMATTING_DOWNLOAD_DEADLINE', '5')
    with serve_folder(str(www)) as (base, _):
        url = base + '/w.pdparams'
        name = cache_file_name(url)
        isolated_cache.mkdir()
        old, fresh = isolated_cache / f'{name}.abc.part', isolated_cache / f'{name}.def.part'
        old.write_bytes(b'x')
        fresh.write_bytes(b'y')
        os.utime(old, (time.time() - 3600, time.time() - 3600))
        cached_download(url, progress=False)
        assert _cache_entries(isolated_cache) == sorted([name, fresh.name])
        # and an unpacking folder a killed extraction left, beside its archive's entry
        _tar_gz(www / 'a.tar.gz', {'m/model.pdparams': (www / 'w.pdparams').read_bytes()})
        unpacked = cache_file_name(base + '/a.tar.gz')[:-len('.tar.gz')]
        (isolated_cache / f'{unpacked}.ghi.part').mkdir()
        os.utime(isolated_cache / f'{unpacked}.ghi.part', (time.time() - 3600, time.time() - 3600))
        cached_download(base + '/a.tar.gz', extract=True, progress=False)
    assert _cache_entries(isolated_cache) == sorted([name, fresh.name, unpacked, unpacked + '.tar.gz'])

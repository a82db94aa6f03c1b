"""The export cache stays under its bound, oldest use first, and touches nothing of the user's."""
import os

import pytest

from paddlematting.cli import cache as cache_cli
from paddlematting.inference import export_cache


def _fake_export(cache_dir, index, megabytes, last_used):
    folder = cache_dir / (f'{index:x}' * 64)[:64]
    folder.mkdir(parents=True)
    (folder / 'deploy.yaml').write_text('Deploy: {}\n')
    (folder / 'model.pdiparams').write_bytes(b'\0' * int(megabytes * (1 << 20)))
    os.utime(folder, (last_used, last_used))
    return str(folder)


def test_prune_removes_least_recently_used_until_it_fits(tmp_path):
    a = _fake_export(tmp_path, 1, 1.0, last_used=100)
    b = _fake_export(tmp_path, 2, 1.0, last_used=300)
    c = _fake_export(tmp_path, 3, 1.0, last_used=200)
    user_folder = tmp_path / 'my_notes'
    user_folder.mkdir()
    (user_folder / 'big.bin').write_bytes(b'\0' * (3 << 20))
    removed = export_cache.prune(str(tmp_path), limit_bytes=int(1.5 * (1 << 20)))
    assert removed == [a, c]                       # oldest use first, until 1 MB <= 1.5 MB
    assert os.path.isdir(b) and (user_folder / 'big.bin').exists()


def test_prune_keeps_the_export_in_use_and_touch_refreshes_it(tmp_path):
    a = _fake_export(tmp_path, 1, 1.0, last_used=100)
    b = _fake_export(tmp_path, 2, 1.0, last_used=50)
    export_cache.touch(b)                          # b was just used: a is now the oldest
    assert export_cache.prune(str(tmp_path), limit_bytes=0, keep=b) == [a]
    assert os.path.isdir(b)


def test_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(export_cache.CACHE_LIMIT_ENV, '10')
    assert export_cache.cache_limit_bytes() == 10 << 20
    monkeypatch.delenv(export_cache.CACHE_LIMIT_ENV)
    assert export_cache.cache_limit_bytes() == export_cache.DEFAULT_LIMIT_MB << 20
    monkeypatch.setenv(export_cache.CACHE_LIMIT_ENV, 'lots')
    with pytest.raises(ValueError, match=r'\$PADDLEMATTING_EXPORT_CACHE_MB is .lots.; expected a size in MB'):
        export_cache.cache_limit_bytes()


def test_cache_command_reports_and_clears_only_our_files(tmp_path, monkeypatch, capsys):
    home = tmp_path / 'home'
    monkeypatch.setenv('PADDLEMATTING_HOME', str(home))
    monkeypatch.delenv('PADDLEMATTING_EXPORT_CACHE', raising=False)
    export = _fake_export(home / 'exports', 1, 0.5, last_used=100)
    (home / '0123abcd-model.pdparams').write_bytes(b'\0' * 1000)
    (home / 'README.mine').write_text('keep me')
    assert cache_cli.main(['info']) == 0
    out = capsys.readouterr().out
    assert '1 folder(s), 0.5 MB' in out and '1 item(s)' in out
    assert cache_cli.main(['clear', '--downloads']) == 0
    assert not (home / '0123abcd-model.pdparams').exists() and os.path.isdir(export)
    assert cache_cli.main(['clear']) == 0
    assert not os.path.exists(export) and (home / 'README.mine').read_text() == 'keep me'

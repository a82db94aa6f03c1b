"""A first export into the cache announces itself: what, about how long, where; progress
lines while it runs; the time it took becomes the next estimate. A cached export is silent."""
import json
import logging
import os

import core_plugin  # noqa: F401  (registers CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting import Config
from paddlematting.inference import export_cache
from paddlematting.inference.export import export_checkpoint_cached

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


def test_first_export_announces_itself_with_progress_and_records_its_time(tmp_path, records,
                                                                          monkeypatch):
    monkeypatch.setattr(export_cache, 'PROGRESS_INTERVAL_S', 0.01)
    monkeypatch.setattr(logging.getLogger('paddlematting'), 'level', logging.INFO)
    cache = tmp_path / 'cache'
    folder = export_checkpoint_cached(Config(TINY_CONFIG), None, cache_dir=str(cache))
    announced = [m for m in records if m.startswith('Exporting CoreTestNet once')]
    assert len(announced) == 1, records
    assert 'a minute or two' in announced[0] and folder in announced[0]
    assert any(m.startswith('Exporting CoreTestNet: ') and 'so far' in m for m in records)
    done = [m for m in records if m.startswith('Exported CoreTestNet in ')]
    assert len(done) == 1
    recorded = json.loads((cache / export_cache.TIMES_FILE).read_text())['CoreTestNet']
    assert recorded > 0 and export_cache.expected_export_seconds(str(cache), 'CoreTestNet') == recorded

    records.clear()
    assert export_checkpoint_cached(Config(TINY_CONFIG), None, cache_dir=str(cache)) == folder
    assert not [m for m in records if 'Exporting' in m or 'Exported' in m]  # cached: silent

    # another model section: a new export, now estimated from the first one
    other = export_checkpoint_cached(Config(TINY_CONFIG, opts=['model.width=4']), None,
                                     cache_dir=str(cache))
    assert other != folder
    announced = [m for m in records if m.startswith('Exporting CoreTestNet once')]
    assert len(announced) == 1 and f'about {recorded:.0f} s' in announced[0]
    # the cache's bookkeeping file is not taken for an export (nothing to prune, no error)
    assert {e.path for e in export_cache.entries(str(cache))} == {folder, other}

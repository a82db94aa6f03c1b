"""``paddlematting-cache``: show or empty the caches (downloaded weights, exported models).

    paddlematting-cache info
    paddlematting-cache clear [--exports] [--downloads]     (both when neither is given)

Only files this toolkit wrote are removed: exports are our key-named folders holding
deploy.yaml; downloads are the files and unpacked folders directly in the cache home.
"""
import argparse
import os
import re
import shutil
from typing import List, Optional

from ..inference import export_cache
from ..inference.export import default_cache_dir
from ..utils.download import cache_home


# utils.download.cache_file_name's form: 8 hex digits of the URL's hash, '-', the base name
_DOWNLOAD_NAME = re.compile(r'^[0-9a-f]{8}-[A-Za-z0-9._-]+$')


def _download_entries() -> List[str]:
    """The downloads (files and unpacked folders) in the cache home, by our naming only."""
    home = cache_home()
    if not os.path.isdir(home):
        return []
    return sorted(os.path.join(home, n) for n in os.listdir(home) if _DOWNLOAD_NAME.match(n))


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='paddlematting-cache', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('action', choices=('info', 'clear'))
    parser.add_argument('--exports', action='store_true', help='only the exported models')
    parser.add_argument('--downloads', action='store_true', help='only the downloaded weights')
    args = parser.parse_args(argv)
    both = not (args.exports or args.downloads)
    exports = export_cache.entries(default_cache_dir())
    downloads = _download_entries()
    if args.action == 'info':
        mb = 1 << 20
        print(f'exports   {default_cache_dir()}: {len(exports)} folder(s), '
              f'{sum(e.size_bytes for e in exports) / mb:.1f} MB '
              f'(bound ${export_cache.CACHE_LIMIT_ENV} = {export_cache.cache_limit_bytes() // mb} MB)')
        print(f'downloads {cache_home()}: {len(downloads)} item(s), '
              f'{sum(_size(p) for p in downloads) / mb:.1f} MB')
        return 0
    removed = 0
    if both or args.exports:
        removed += len(export_cache.clear(default_cache_dir()))
    if both or args.downloads:
        for path in downloads:
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
            removed += 1
    print(f'Removed {removed} cache item(s).')
    return 0

"""``paddlematting``: one command with subcommands.

    paddlematting remove IN OUT [--model NAME] [--refiner NAME] ...   cut out photos
    paddlematting models [--markdown]                                   list the model zoo
    paddlematting cache info|clear                                      the download/export caches
    paddlematting batch --input SRC --output DST --model NAME           many images on Ray Data
    paddlematting serve [--port 7000] [--model NAME] [--refiner NAME]   the HTTP server and its page

A subcommand is a module with ``main(argv) -> exit status``; adding one is one line in
``SUBCOMMANDS``.
"""
import difflib
import importlib
import sys
from typing import List, Optional

from .errors import EXIT_BAD_INPUTS

# name -> (module with main(argv), one-line description)
SUBCOMMANDS = {
    'remove': ('paddlematting.cli.remove', 'cut the background out of photos (a file, folder, list or -)'),
    'models': ('paddlematting.cli.models', 'list the model zoo: names, tasks, licences, weights'),
    'cache': ('paddlematting.cli.cache', 'show or empty the caches (downloaded weights, exports)'),
    'serve': ('paddlematting.cli.serve', 'the matting server: HTTP API (rembg-compatible), web page, '
                                         'metrics'),
    'batch': ('paddlematting.cli.batch', 'matte a folder, list or bucket of images on Ray Data '
                                         '(resumable, with a manifest)'),
}


def usage() -> str:
    lines = ['usage: paddlematting COMMAND [ARGS] (paddlematting COMMAND --help for its flags)', '',
             'commands:']
    width = max(len(name) for name in SUBCOMMANDS)
    lines += [f'  {name.ljust(width)}  {description}' for name, (_, description) in SUBCOMMANDS.items()]
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``paddlematting COMMAND ARGS``; returns the subcommand's exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(usage())
        return 0 if argv else EXIT_BAD_INPUTS
    name = argv[0]
    if name not in SUBCOMMANDS:
        close = difflib.get_close_matches(name, list(SUBCOMMANDS), n=1)
        hint = f'; did you mean {close[0]}?' if close else ''
        print(f'paddlematting: unknown command {name!r}{hint} (commands: '
              f'{", ".join(SUBCOMMANDS)})', file=sys.stderr)
        return EXIT_BAD_INPUTS
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return module.main(argv[1:])


if __name__ == '__main__':
    sys.exit(main())

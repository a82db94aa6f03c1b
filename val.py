"""Thin wrapper: `python val.py --help` (same as the `paddlematting-val` command)."""
import sys

from paddlematting.cli.val import main

if __name__ == '__main__':
    sys.exit(main())

"""Thin wrapper: `python train.py --help` (same as the `paddlematting-train` command)."""
import sys

from paddlematting.cli.train import main

if __name__ == '__main__':
    sys.exit(main())

"""Thin wrapper: `python predict.py --help` (same as the `paddlematting-predict` command)."""
import sys

from paddlematting.cli.predict import main

if __name__ == '__main__':
    sys.exit(main())

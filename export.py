"""Export a trained model for Paddle Inference; see `python export.py --help`."""
import sys

from paddlematting.cli.export import main

if __name__ == '__main__':
    sys.exit(main())

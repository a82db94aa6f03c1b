"""``train.py`` with the tiny test components registered (for subprocess and launch tests)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import core_plugin  # noqa: E402,F401  (registers CoreTestSet / CoreTestNet)
from paddlematting.cli.train import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

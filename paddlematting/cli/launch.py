"""``python -m paddlematting.cli.launch``: ``paddle.distributed.launch`` without Paddle's noise.

The same flags and behaviour as ``python -m paddle.distributed.launch`` (it is called as it
is); only the launcher's own process first filters its output like our other commands
(``utils.stderr_filter``) and ignores Paddle's import-time "No ccache found" warning, and the
trainers it starts inherit that warnings filter through ``PYTHONWARNINGS`` (``train.py``
filters it by itself; other entry scripts may import paddle first).

    python -m paddlematting.cli.launch --nproc_per_node 2 train.py --config ...
"""
import os
import sys
import warnings

_CCACHE_FILTER = 'ignore:No ccache found'


def main() -> None:
    """Run paddle's launcher with ``sys.argv``; exits with its status."""
    warnings.filterwarnings('ignore', message='No ccache found')
    inherited = os.environ.get('PYTHONWARNINGS')
    if _CCACHE_FILTER not in (inherited or ''):
        os.environ['PYTHONWARNINGS'] = ','.join(filter(None, [inherited, _CCACHE_FILTER]))
    # importing this package (paddlematting.cli) has installed the output filter
    from paddle.distributed.launch.main import launch
    launch()


if __name__ == '__main__':
    sys.exit(main())

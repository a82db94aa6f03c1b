"""Command-line entry points (train, val, predict, export); the root scripts are thin wrappers over these.

Importing this package routes stdout and stderr through ``utils.stderr_filter``, so the
commands show our output and real problems, not third-party notices (set
PADDLEMATTING_SHOW_ALL_OUTPUT=1 to see everything). Library users, who never import ``cli``,
keep their output as it is. ``python -m paddlematting.cli.launch`` is paddle's multi-process
launcher with the same filtering.

It also gives the commands every usable core (``utils.cpu_threads``) unless OMP_NUM_THREADS
is set: Paddle would otherwise run them on one thread.
"""
from ..utils import cpu_threads, stderr_filter

cpu_threads.apply_default_cpu_threads()
stderr_filter.install()

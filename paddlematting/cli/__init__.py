"""Command-line entry points (train, val, predict, export); the root scripts are thin wrappers over these.

Importing this package routes stdout and stderr through ``utils.stderr_filter``, so the
commands show our output and real problems, not third-party notices (set
PADDLEMATTING_SHOW_ALL_OUTPUT=1 to see everything). Library users, who never import ``cli``,
keep their output as it is. ``python -m paddlematting.cli.launch`` is paddle's multi-process
launcher with the same filtering.
"""
from ..utils import stderr_filter

stderr_filter.install()

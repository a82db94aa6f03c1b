"""Command-line entry points (train, val, predict, export); the root scripts are thin wrappers over these."""

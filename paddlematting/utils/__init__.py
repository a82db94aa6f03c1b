"""Utilities shared by every layer: registries, config, image io, download cache, logging."""
from . import manager

"""Utilities shared by every layer: image io, output files, download cache, safe weights
reading, weights loading, trimap values, device, stderr filtering."""

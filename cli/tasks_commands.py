"""Imports each command module so its commands register on the app."""

from . import apply, dist, dr, info, kd, ogb, plot, ssl  # noqa: F401

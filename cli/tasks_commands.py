"""Imports each task's command module so its commands register on the app."""
import importlib

for _name in ("dr", "kd", "ssl", "plot", "ogb", "dist", "info"):
    try:
        importlib.import_module(f".{_name}", __package__)
    except ModuleNotFoundError as exc:  # a task whose commands are not written yet
        if exc.name != f"{__package__}.{_name}":
            raise

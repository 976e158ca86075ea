"""genurl-graph: GenURL unsupervised representation learning, graph first, on DGL and PyTorch.

    >>> from genurl_graph import GenURL, datasets
    >>> data = datasets.load("cora")
    >>> Z = GenURL(task="ge", dim=128).fit_transform(data.graph)

The names below are imported on first use (PEP 562), so ``import genurl_graph.errors`` (the
command line's start) does not import torch.
"""

import importlib

from . import _deps  # noqa: F401  (first: DGL settings before anything imports it)
from .errors import InputError

__version__ = "0.1.0"
__all__ = ["GenURL", "Graph", "InputError", "as_graph", "read_graph", "datasets", "__version__"]
_LAZY = {
    "GenURL": ".model",
    "Graph": ".graphs",
    "as_graph": ".graphs",
    "read_graph": ".graphs",
    "datasets": ".datasets",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name], __name__)
    value = module if name == "datasets" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))

"""genurl-graph: GenURL unsupervised representation learning, graph first, on DGL and PyTorch.

    >>> from genurl_graph import GenURL, datasets
    >>> data = datasets.load("cora")
    >>> Z = GenURL(task="ge", dim=128).fit_transform(data.graph)
"""
from . import _deps  # noqa: F401  (first: DGL settings before anything imports it)
from . import datasets
from .errors import InputError
from .graphs import Graph, as_graph, read_graph
from .model import GenURL

__version__ = "0.1.0"
__all__ = ["GenURL", "Graph", "InputError", "as_graph", "read_graph", "datasets", "__version__"]

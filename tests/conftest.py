import numpy as np
import pytest

import genurl_graph  # noqa: F401  (first: sets DGLBACKEND before any test imports DGL)


@pytest.fixture(scope="session")
def cora():
    from genurl_graph import datasets

    return datasets.load("cora")


def planted_edges(n_per=30, blocks=3, p_in=0.3, p_out=0.01, seed=0):
    """A small stochastic block model: (edges (E, 2), labels (n,))."""
    rng = np.random.default_rng(seed)
    n = n_per * blocks
    y = np.repeat(np.arange(blocks), n_per)
    prob = np.where(y[:, None] == y[None, :], p_in, p_out)
    upper = np.triu(rng.random((n, n)) < prob, 1)
    return np.argwhere(upper), y


@pytest.fixture
def sbm():
    return planted_edges()


def pytest_report_header(config):
    from genurl_graph._deps import _dgl_import_error

    why = _dgl_import_error()
    return "genurl backends: " + (
        "DGL available (dgl kernels, nn-descent)"
        if why is None
        else f"DGL skipped ({why}): torch backends only"
    )

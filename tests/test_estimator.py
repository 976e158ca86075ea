"""GenURL as a scikit-learn estimator: clone, params, pipelines, grid search, fitted attributes,
and the extension points (own P_X, own encoder module, own task)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from genurl_graph import GenURL, InputError
from genurl_graph.engine import TrainConfig
from genurl_graph.tasks.base import Plan


def blobs(n=150, f=10, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    centres = rng.normal(scale=6.0, size=(3, f))
    return (centres[y] + rng.normal(size=(n, f))).astype(np.float32), y


def test_parameters_are_keyword_only_and_clone_keeps_them():
    with pytest.raises(TypeError):
        GenURL("dr")  # positional: refused
    model = GenURL(task="dr", dim=3, epochs=7, random_state=5)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert copy.set_params(dim=4) is copy and copy.dim == 4 and model.dim == 3
    assert "refine" in model.get_params() and "progress" in model.get_params()


def test_fitted_attributes_hold_the_resolved_settings():
    X, _ = blobs()
    model = GenURL(task="dr", epochs=3)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    model.fit(X)
    check_is_fitted(model)
    assert model.dim_ == 2 and model.epochs_ == 3 and model.config_.epochs == 3
    # the task's defaults
    assert model.lr_ == model.config_.lr == 1.0 and model.config_.optimizer == "sgd"
    assert model.dim is None and model.lr is None  # the parameters stay as given


def test_pipeline_and_grid_search_over_an_embedding_parameter():
    X, y = blobs()
    pipe = Pipeline(
        [("emb", GenURL(task="dr", parametric=True, epochs=5)), ("clf", LogisticRegression())]
    )
    assert pipe.fit(X, y).score(X, y) > 0.9  # y reaches the classifier, not GenURL
    search = GridSearchCV(pipe, {"emb__dim": [2, 3]}, cv=2).fit(X, y)
    assert search.best_params_["emb__dim"] in (2, 3) and search.best_score_ > 0.8


def test_a_users_own_affinity_replaces_the_tasks():
    X, _ = blobs(f=4)
    n = len(X)
    # P_X that says "rows 0..74 and 75..149 are two groups", whatever the features say
    group = np.arange(n) < n // 2
    rng = np.random.default_rng(0)
    rows = rng.integers(0, n, 3000)
    cols = np.where(group[rows], rng.integers(0, n // 2, 3000), rng.integers(n // 2, n, 3000))
    P = sp.csr_matrix((np.ones(3000), (rows, cols)), shape=(n, n))
    P = ((P + P.T) > 0).astype(np.float32)
    Z = GenURL(task="dr", epochs=50).fit_transform(X, affinity=P)
    centres = np.stack([Z[group].mean(0), Z[~group].mean(0)])
    nearest = ((Z[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == (~group).astype(int)).mean() > 0.95
    with pytest.raises(InputError, match="150 x 150"):
        GenURL(task="dr", epochs=1).fit(X, affinity=P[:10, :10])
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        GenURL(task="dr", epochs=1).fit(X, affinity=P * 2)


def test_a_users_own_encoder_module_is_trained_as_a_copy():
    X, y = blobs()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    before = [p.detach().clone() for p in net.parameters()]
    model = GenURL(task="dr", encoder=net, epochs=20).fit(X)
    assert model.encoder_name_ == "custom" and model.embeddings_.shape == (150, 2)
    # the user's module untouched
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    # its copy trained
    assert not all(torch.equal(a, b) for a, b in zip(before, model.encoder_.parameters()))
    assert np.allclose(model.transform(X), model.embeddings_, atol=1e-5)
    with pytest.raises(InputError, match="built-in task and encoder"):
        model.save("unused.pt")


def test_a_task_of_ones_own_runs_through_the_same_entry():
    class Pairs:
        """Embed n items so that listed pairs are close: a task in a dozen lines."""

        def build(self, model, X, **inputs):
            from genurl_graph.encoders import Table
            from genurl_graph.similarity import Affinity

            n = int(X.max()) + 1
            P = sp.csr_matrix((np.ones(len(X)), (X[:, 0], X[:, 1])), shape=(n, n))
            return Plan(
                encoder=Table(n, model.dim or 2),
                inputs=None,
                num_nodes=n,
                config=TrainConfig(epochs=100, lr=0.05),
                affinity=Affinity(P + P.T),
                fitted={"encoder_name_": "table"},
            )

        def transform(self, model, X, **inputs):
            raise AssertionError("not used")

    pairs = np.array([[2 * i, 2 * i + 1] for i in range(20)])
    model = GenURL(task=Pairs(), epochs=150).fit(pairs)
    Z = model.embeddings_
    partner = ((Z[0::2] - Z[1::2]) ** 2).sum(1)
    other = ((Z[0::2] - np.roll(Z[1::2], 1, 0)) ** 2).sum(1)
    assert model.config_.epochs == 150 and (partner < other).mean() > 0.9
    with pytest.raises(InputError, match="unknown task"):
        GenURL(task=object()).fit(pairs)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"dim": 0}, "dim"),
        ({"epochs": -1}, "epochs"),
        ({"lr": 0}, "lr"),
        ({"negatives": -2}, "negatives"),
        ({"metric": "cityblock"}, "metric"),
        ({"patience": 1.5}, "patience"),
        ({"encoder": 3}, "encoder"),
    ],
)
def test_every_parameter_is_checked_in_one_place(bad, match):
    X, _ = blobs()
    with pytest.raises(InputError, match=match):
        GenURL(task="dr", **bad).fit(X)


def test_history_names_the_kernel_that_computed_the_loss(sbm):
    X, _ = blobs()
    from genurl_graph._deps import numba_available

    want = "numba" if numba_available() else "fused"  # the compiled 2-d loss, else torch's
    assert GenURL(task="dr", epochs=2).fit(X).history_.backend == want
    table = GenURL(task="ge", dim=8, epochs=2).fit(sbm[0])
    # 8 columns, the fuzzy form: an edge kernel
    assert table.history_.backend in (
        "dgl",
        "spmm",
        "torch",
    )


def test_help_texts_state_the_defaults_the_library_uses():
    from typer.testing import CliRunner

    from genurl_graph.cli.main import app
    from genurl_graph.tasks import dr, ge, kd, ssl

    def helptext(command):
        return " ".join(
            CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "300"}).output.split()
        )

    assert f"default {dr.FREE.train.epochs};" in helptext(
        "reduce"
    ) and f"default {dr.FREE.k}; {dr.PARAMETRIC.k} with --parametric)" in helptext("reduce")
    assert f"default {kd.DEFAULTS.train.epochs};" in helptext("distill")
    assert f"(default {kd.DEFAULTS.k})" in helptext(
        "distill"
    ) and f"(default {kd.DEFAULTS.dim})" in helptext("distill")
    assert f"(default {ssl.DEFAULTS.train.epochs})" in helptext("ssl")
    assert f"(default {ssl.DEFAULTS.train.batch_size})" in helptext("ssl")
    embed = helptext("embed")
    assert (
        f"{ge.WITH_FEATURES.train.epochs} with features" in embed
        and f"{ge.WITH_FEATURES.dim} with" in embed
    )
    assert f"{ge.STRUCTURE_ONLY.dim} without" in embed and f"({ge.LARGE_EPOCHS} above" in embed


def test_a_graph_embedding_trains_on_the_given_affinity(sbm):
    edges, y = sbm
    n = len(y)
    same = (y[:, None] == y[None, :]) & ~np.eye(n, dtype=bool)  # P_X: "same block", not the edges
    P = sp.csr_matrix(same.astype(np.float32))
    model = GenURL(task="ge", dim=8, epochs=30).fit(edges, affinity=P)
    assert abs(model.affinity_.P - P).max() == 0  # trained on P, not on the graph's edges
    Z = model.embeddings_
    centres = np.stack([Z[y == c].mean(0) for c in range(3)])
    assert (((Z[:, None] - centres[None]) ** 2).sum(-1).argmin(1) == y).mean() > 0.95
    with pytest.raises(InputError, match=f"{n} x {n}"):
        GenURL(task="ge", dim=8, epochs=1).fit(edges, affinity=P[:5, :5])


def test_a_layout_loads_neither_scikit_learn_nor_dgl():
    """The estimator speaks scikit-learn's protocol without importing it (0.8 s), and a
    closed-form layout needs no edge kernel, so not DGL (0.3 s): `genurl reduce`'s start-up."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from genurl_graph import GenURL\n"
        "GenURL(task='dr', epochs=3).fit(np.random.default_rng(0).normal(size=(60, 4)))\n"
        "print(sorted(m for m in ('sklearn', 'dgl') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_set_params_refuses_unknown_names_and_repr_shows_the_changed_ones():
    model = GenURL(task="dr", dim=3)
    assert repr(model) == "GenURL(dim=3, task='dr')" and repr(GenURL()) == "GenURL()"
    assert model.set_params(k=7) is model and model.k == 7
    with pytest.raises(ValueError, match="Invalid parameter 'kk'"):
        model.set_params(kk=7)
    assert set(model.get_params()) == set(GenURL._get_param_names()) and "progress" in set(
        model.get_params()
    )

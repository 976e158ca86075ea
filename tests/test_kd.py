"""Knowledge distillation (tasks/kd.py), model files (persist.py) and `genurl distill` / `apply`."""

import pickle

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genurl_graph import GenURL, InputError
from genurl_graph.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def digits():
    """400 digits: raw pixels X, a teacher T (its 16-d PCA: neighbourhoods by class), labels."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    X, y = load_digits(return_X_y=True)
    X, y = X[:400].astype(np.float32), y[:400]
    T = PCA(16, random_state=0).fit_transform(X).astype(np.float32)
    return X, T, y


def small(**kw):
    return GenURL(
        task="kd", **{"dim": 8, "hidden": 64, "epochs": 40, "lr": 1e-2, "random_state": 0, **kw}
    )


def knn_accuracy(Z, y, k=5):
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    return cross_val_score(KNeighborsClassifier(k), Z, y, cv=3).mean()


def test_fit_transform_learns_the_teachers_neighbourhoods(digits):
    X, T, y = digits
    model = small().fit(X[:300], teacher=T[:300])
    Z = model.embeddings_
    assert Z.shape == (300, 8) and np.isfinite(Z).all()
    assert model.encoder_name_ == "mlp" and model.affinity_.num_nodes == 300
    assert knn_accuracy(Z, y[:300]) > 0.85
    Z_new = model.transform(X[300:])  # new rows: inputs only, no teacher
    assert Z_new.shape == (100, 8)
    np.testing.assert_allclose(model.transform(X[:300]), Z, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip_gives_identical_transform(tmp_path, digits):
    X, T, _ = digits
    model = small(epochs=3).fit(X[:200], teacher=T[:200])
    path = tmp_path / "student.pt"
    model.save(path)
    loaded = GenURL.load(path)
    assert loaded.task == "kd" and loaded.dim == 8 and loaded.encoder_.norm == "standard"
    assert np.array_equal(loaded.transform(X[200:]), model.transform(X[200:]))
    assert [p.name for p in tmp_path.iterdir()] == ["student.pt"]  # no temporary file left


def test_load_refuses_files_it_did_not_write(tmp_path):
    cases = {
        "dict.pkl": lambda p: p.write_bytes(pickle.dumps({"format": "x", "state": {}})),
        "tensors.pt": lambda p: torch.save({"weight": torch.zeros(3)}, p),
        "text.pt": lambda p: p.write_text("hello\n"),
        "code.pt": lambda p: torch.save({"cb": np.random.default_rng}, p),
    }
    for name, write in cases.items():
        path = tmp_path / name
        write(path)
        with pytest.raises(InputError, match="not a genurl-graph model file"):
            GenURL.load(path)


def test_gcn_student_needs_and_uses_a_graph(tmp_path, digits):
    X, T, _ = digits
    from genurl_graph.graphs.knn import knn_graph

    idx, _ = knn_graph(X[:100], 5, "euclidean")
    edges = np.stack([np.repeat(np.arange(100), 5), idx.ravel()], 1)
    from genurl_graph import as_graph

    g = as_graph(edges)
    with pytest.raises(InputError, match="needs a graph"):
        small(student="gcn", epochs=2).fit(X[:100], teacher=T[:100])
    model = small(student="gcn", epochs=2).fit(X[:100], teacher=T[:100], graph=g)
    assert model.transform(X[:100], graph=g).shape == (100, 8)
    model.save(tmp_path / "gcn.pt")
    loaded = GenURL.load(tmp_path / "gcn.pt")
    assert np.array_equal(loaded.transform(X[:100], graph=g), model.transform(X[:100], graph=g))
    with pytest.raises(InputError, match="needs the graph"):
        loaded.transform(X[:100])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda X, T: (X[:50], T[:49]), "49 rows but the inputs have 50"),
        (lambda X, T: (X[:1], T[:1]), "teacher of 1 row"),
        (
            lambda X, T: (X[:50], np.where(np.arange(50)[:, None] == 7, np.nan, T[:50])),
            "NaN or inf .* row 7",
        ),
        (
            lambda X, T: (np.where(np.arange(50)[:, None] == 3, np.inf, X[:50]), T[:50]),
            "inputs contains NaN or inf",
        ),
    ],
)
def test_bad_input_is_a_clear_error(digits, make, match):
    X, T, _ = digits
    Xb, Tb = make(X, T)
    with pytest.raises(InputError, match=match):
        small(epochs=1).fit(Xb, teacher=Tb)


def test_unknown_student_and_missing_teacher(digits):
    X, T, _ = digits
    with pytest.raises(InputError, match="unknown student 'cnn'"):
        small(student="cnn").fit(X[:50], teacher=T[:50])
    with pytest.raises(InputError, match="needs the teacher"):
        small().fit(X[:50])
    model = small(epochs=1).fit(X[:50], teacher=T[:50])
    with pytest.raises(InputError, match="takes 64 input columns"):
        model.transform(X[:5, :10])


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_cli_distill_then_apply(tmp_path, digits):
    X, T, y = digits
    np.save(tmp_path / "T.npy", T[:300])
    (tmp_path / "T.nodes.txt").write_text("\n".join(f"d{i}" for i in range(300)) + "\n")
    # inputs as .csv with ids, in another order: matched to the teacher's ids
    order = np.random.default_rng(0).permutation(300)
    (tmp_path / "X.csv").write_text(
        "id,"
        + ",".join(f"p{j}" for j in range(64))
        + "\n"
        + "".join(f"d{i}," + ",".join(f"{v:g}" for v in X[i]) + "\n" for i in order)
    )
    res = run(
        "distill",
        "--teacher",
        tmp_path / "T.npy",
        "--inputs",
        tmp_path / "X.csv",
        "--dim",
        8,
        "--hidden",
        64,
        "--epochs",
        40,
        "-o",
        tmp_path / "student.pt",
        "--embed-out",
        tmp_path / "S.npy",
        "-q",
    )
    assert res.exit_code == 0, res.output
    S = np.load(tmp_path / "S.npy")
    assert S.shape == (300, 8)
    assert (tmp_path / "S.nodes.txt").read_text().split()[:2] == ["d0", "d1"]
    assert knn_accuracy(S, y[:300]) > 0.85
    np.save(tmp_path / "X_new.npy", X[300:])
    res = run(
        "apply", tmp_path / "student.pt", tmp_path / "X_new.npy", "-o", tmp_path / "S_new.csv"
    )
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "S_new.csv").read_text().splitlines()
    assert lines[0].startswith("node,z0") and len(lines) == 101 and lines[1].startswith("0,")
    model = GenURL.load(tmp_path / "student.pt")
    row = np.array(lines[1].split(",")[1:], dtype=np.float32)
    np.testing.assert_allclose(row, model.transform(X[300:301])[0], rtol=1e-4, atol=1e-5)


def test_cli_bad_input_leaves_no_files(tmp_path, digits):
    X, T, _ = digits
    np.save(tmp_path / "T.npy", T[:60])
    np.save(tmp_path / "X.npy", X[:50])
    bad_teacher = T[:50].copy()
    bad_teacher[4] = np.nan
    np.save(tmp_path / "Tnan.npy", bad_teacher)
    out = ["-o", tmp_path / "s.pt", "--embed-out", tmp_path / "s.npy", "-q", "--epochs", 1]
    cases = [
        (
            ["--teacher", tmp_path / "T.npy", "--inputs", tmp_path / "X.npy"],
            "60 rows but the inputs have 50",
        ),
        (["--teacher", tmp_path / "Tnan.npy", "--inputs", tmp_path / "X.npy"], "NaN or inf"),
        (
            ["--teacher", tmp_path / "T.npy", "--inputs", tmp_path / "X.npy", "--student", "cnn"],
            "unknown student 'cnn'",
        ),
    ]
    for args, match in cases:
        res = run("distill", *args, *out)
        assert res.exit_code == 2, res.output
        assert "error:" in res.output and match in res.output.replace("\n", "")
        assert not (tmp_path / "s.pt").exists() and not (tmp_path / "s.npy").exists()
    (tmp_path / "foreign.pt").write_bytes(pickle.dumps({"a": 1}))
    res = run("apply", tmp_path / "foreign.pt", tmp_path / "X.npy", "-o", tmp_path / "o.npy")
    assert res.exit_code == 2 and "not a genurl-graph model file" in res.output
    assert not (tmp_path / "o.npy").exists()


def test_teacher_graph_weights_binary_or_smooth(digits):
    X, T, _ = digits
    smooth = small(epochs=1).fit(X[:60], teacher=T[:60])
    binary = small(epochs=1).fit(X[:60], teacher=T[:60], weights="binary")
    assert np.allclose(binary.affinity_.P.data, 1.0)
    assert smooth.affinity_.P.data.min() < 1.0
    # default: 3 layers
    assert sum(isinstance(m, torch.nn.Linear) for m in smooth.encoder_.net) == 3

import numpy as np
import pytest

from genurl_graph import InputError, read_graph
from genurl_graph import io as gio


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("sep", [" ", "\t", ",", "  "])
def test_separators_and_comments(tmp_path, sep):
    path = write(tmp_path, "e.txt", f"# comment\n% other\n0{sep}1\n\n1{sep}2\n2{sep}0\n")
    edges = gio.read_edgelist(path)
    assert list(edges.ids) == [0, 1, 2]
    assert sorted(zip(edges.src, edges.dst)) == [(0, 1), (1, 2), (2, 0)]


def test_string_ids_keep_first_appearance_order(tmp_path):
    path = write(tmp_path, "e.txt", "bob alice 2.5\nalice carol 1\n")
    edges = gio.read_edgelist(path)
    assert list(edges.ids) == ["bob", "alice", "carol"]
    assert edges.weight.tolist() == [2.5, 1.0]


def test_integer_ids_sorted_numerically(tmp_path):
    edges = gio.read_edgelist(write(tmp_path, "e.txt", "10 2\n2 3\n"))
    assert list(edges.ids) == [2, 3, 10]


def test_nodes_file_fixes_order_and_keeps_isolated(tmp_path):
    nodes = write(tmp_path, "n.txt", "c\nb\na\nlonely\n")
    g = read_graph(write(tmp_path, "e.txt", "a b\nb c\n"), nodes=nodes)
    assert list(g.ids) == ["c", "b", "a", "lonely"]
    assert g.adj[3].nnz == 0 and g.adj[2, 1] == 1 and g.adj[1, 2] == 1


def test_directed_and_duplicates_keep_max_weight(tmp_path):
    path = write(tmp_path, "e.txt", "0 1 1\n0 1 3\n1 2 1\n")
    g = read_graph(path, directed=True)
    assert g.adj[0, 1] == 3 and g.adj[1, 0] == 0
    assert read_graph(path).adj[1, 0] == 3


def test_self_loops_dropped(tmp_path):
    g = read_graph(write(tmp_path, "e.txt", "0 0\n0 1\n"))
    assert g.adj.diagonal().sum() == 0 and g.num_edges == 2


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "file is empty"),
        ("# only a comment\n", "no data lines"),
        ("0 1\n2\n", r"e.txt:2: expected 'source target \[weight\]', found one column"),
        ("0 1 1\n1 2 heavy\n", r"e.txt:2: weight 'heavy' is not a number"),
        ("0 1 -1\n", r"e.txt:1: weight '-1' must be a finite number >= 0"),
        ("0 1\n1 2 3 4\n", r"e.txt:2: expected at most 3 columns"),
        ("1 1\n2 2\n", "no edges after removing self-loops"),
    ],
)
def test_bad_edge_lists(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        read_graph(write(tmp_path, "e.txt", text))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_graph(tmp_path / "absent.txt")


def test_node_not_in_nodes_file(tmp_path):
    nodes = write(tmp_path, "n.txt", "a\nb\n")
    with pytest.raises(InputError, match=r"e.txt:2: node 'z' is not in the node list"):
        read_graph(write(tmp_path, "e.txt", "a b\nb z\n"), nodes=nodes)


def test_features_npy_by_integer_id_with_isolated_rows(tmp_path):
    np.save(tmp_path / "f.npy", np.arange(8, dtype=np.float32).reshape(4, 2))
    g = read_graph(write(tmp_path, "e.txt", "0 1\n1 2\n"), features=tmp_path / "f.npy")
    assert g.num_nodes == 4 and g.features[3].tolist() == [6, 7]


def test_features_csv_by_id(tmp_path):
    feats = write(tmp_path, "f.csv", "node,a,b\nb,1,2\na,3,4\n")
    g = read_graph(write(tmp_path, "e.txt", "a b\n"), features=feats)
    assert g.features.tolist() == [[3, 4], [1, 2]]


@pytest.mark.parametrize(
    "make,match",
    [
        (
            lambda p: np.save(
                p / "f.npy", np.array([[0, 1], [np.nan, 1], [1, 1]], dtype=np.float32)
            ),
            "NaN or inf",
        ),
        (
            lambda p: np.save(p / "f.npy", np.ones((2, 2), dtype=np.float32)),
            "node id 2 has no feature row",
        ),
    ],
)
def test_bad_features(tmp_path, make, match):
    make(tmp_path)
    with pytest.raises(InputError, match=match):
        read_graph(write(tmp_path, "e.txt", "0 1\n1 2\n"), features=tmp_path / "f.npy")


def test_features_wrong_rows_with_nodes_file(tmp_path):
    np.save(tmp_path / "f.npy", np.ones((2, 2), dtype=np.float32))
    with pytest.raises(InputError, match="features have 2 rows but the graph has 3 nodes"):
        read_graph(
            write(tmp_path, "e.txt", "a b\nb c\n"),
            nodes=write(tmp_path, "n.txt", "a\nb\nc\n"),
            features=tmp_path / "f.npy",
        )


def test_features_csv_unknown_node(tmp_path):
    feats = write(tmp_path, "f.csv", "a,1\nb,2\nzz,3\n")
    with pytest.raises(InputError, match=r"f.csv:3: node 'zz' is not in the graph"):
        read_graph(write(tmp_path, "e.txt", "a b\n"), features=feats)


def test_labels_multilabel_and_unknown_node(tmp_path):
    labs = gio.read_labels(write(tmp_path, "l.txt", "0 x\n0 y\n2 y\n"), np.array([0, 1, 2]), 3)
    assert labs.multilabel and labs.rows.tolist() == [0, 2] and labs.y.tolist() == [[1, 1], [0, 1]]
    with pytest.raises(InputError, match=r"l.txt:2: node '7' is not in the embeddings' nodes"):
        gio.read_labels(write(tmp_path, "l.txt", "0 x\n7 y\n"), np.array([0, 1, 2]), 3)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.npy"
    with pytest.raises(RuntimeError):
        with gio.atomic_write(target) as fh:
            fh.write(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".parquet"])
def test_embeddings_round_trip(tmp_path, suffix):
    Z = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    ids = np.array(["a", "b", "c"])
    gio.write_embeddings(tmp_path / f"z{suffix}", Z, ids)
    Z2, ids2 = gio.read_embeddings(tmp_path / f"z{suffix}")
    assert np.allclose(Z, Z2, atol=1e-6) and list(ids2) == ["a", "b", "c"]


def test_output_checks(tmp_path):
    with pytest.raises(InputError, match="folder does not exist"):
        gio.check_output_path(tmp_path / "missing" / "z.npy")
    with pytest.raises(InputError, match="unknown output format"):
        gio.check_output_path(tmp_path / "z.txt")

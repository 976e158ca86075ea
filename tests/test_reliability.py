"""Reliability: outputs replaced together or not at all (fault injection), their permissions,
clear errors (exit 2, nothing written) for bad options and files, and no silent wrong answers."""

import errno
import os
import stat

import numpy as np
import pytest
from typer.testing import CliRunner

from genurl_graph import GenURL, InputError
from genurl_graph import io as gio
from genurl_graph.cli.main import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _previous(tmp_path):
    out = tmp_path / "emb.npy"
    gio.write_embeddings(out, np.ones((3, 2), np.float32), np.array(["a", "b", "c"]))
    return out, {p.name: p.read_bytes() for p in tmp_path.iterdir()}


def _same_as_before(tmp_path, before):
    return {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_failed_array_write_leaves_the_pair_as_it_was(tmp_path, monkeypatch):
    out, before = _previous(tmp_path)

    def disk_full(fh, arr):
        fh.write(b"\x93NUMPY half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    with pytest.raises(OSError):
        gio.write_embeddings(out, np.zeros((4, 2), np.float32), np.array(["w", "x", "y", "z"]))
    assert _same_as_before(tmp_path, before)  # no new ids beside the old array, no temporary left


@pytest.mark.parametrize("fail_at", [1, 2])
def test_failed_rename_rolls_back(tmp_path, monkeypatch, fail_at):
    out, before = _previous(tmp_path)
    real, calls = os.replace, []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(errno.EIO, "I/O error")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError):
        gio.write_embeddings(out, np.zeros((4, 2), np.float32), np.array(["w", "x", "y", "z"]))
    monkeypatch.setattr(os, "replace", real)
    assert _same_as_before(tmp_path, before)
    Z, ids = gio.read_embeddings(out)
    assert Z.shape == (3, 2) and list(ids) == ["a", "b", "c"]


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(
        os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full"))
    )
    with pytest.raises(OSError):
        gio.write_embeddings(tmp_path / "z.npy", np.zeros((2, 2)), np.array([0, 1]))
    assert list(tmp_path.iterdir()) == []


def test_cli_disk_full_is_one_line(tmp_path, monkeypatch):
    edges = tmp_path / "e.txt"
    edges.write_text("".join(f"{i} {(i + 1) % 20}\n" for i in range(20)))
    monkeypatch.setattr(
        os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left"))
    )
    res = run("embed", edges, "-o", tmp_path / "z.npy", "-q", "--epochs", 1, "--dim", 4)
    assert res.exit_code == 1 and "No space left" in res.output and "Traceback" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.txt"]


def test_outputs_follow_the_umask_and_keep_modes(tmp_path):
    old = os.umask(0o027)
    try:
        gio.write_embeddings(tmp_path / "z.npy", np.zeros((2, 2)), np.array([0, 1]))
        assert stat.S_IMODE((tmp_path / "z.npy").stat().st_mode) == 0o640
        assert stat.S_IMODE((tmp_path / "z.nodes.txt").stat().st_mode) == 0o640
        (tmp_path / "z.npy").chmod(0o644)
        gio.write_embeddings(tmp_path / "z.npy", np.ones((2, 2)), np.array([0, 1]))
        assert stat.S_IMODE((tmp_path / "z.npy").stat().st_mode) == 0o644
    finally:
        os.umask(old)


@pytest.mark.parametrize("n", [3, 8, 12])
def test_tiny_graphs_get_a_real_embedding(n):
    ring = np.array([[i, (i + 1) % n] for i in range(n)])
    Z = GenURL(task="ge", dim=8, random_state=0).fit(ring).embeddings_
    assert np.isfinite(Z).all() and np.linalg.norm(Z, axis=1).min() > 0.1


def test_tiny_graph_keeps_its_two_triangles_apart():
    edges = np.array([[0, 1], [1, 2], [2, 0], [3, 4], [4, 5], [5, 3], [2, 3]])
    Z = GenURL(task="ge", random_state=0).fit(edges).embeddings_
    D = ((Z[:, None] - Z[None]) ** 2).sum(-1)
    same = np.add.outer(np.arange(6) // 3, np.arange(6) // 3) % 2 == 0
    np.fill_diagonal(same, False)
    assert D[same].mean() < D[~same & ~np.eye(6, dtype=bool)].mean()


def test_ids_differing_as_text_stay_apart(tmp_path):
    path = tmp_path / "e.txt"
    path.write_text("007 7\n7 1.0\n1.0 1\n")
    assert list(gio.read_edgelist(path).ids) == ["007", "7", "1.0", "1"]
    path.write_text("9007199254740993 1\n1 2\n")
    assert 9007199254740993 in gio.read_edgelist(path).ids.tolist()
    # weighted: a weight's '.' or 'e' is no id's; an id's leading zero is, in any field order,
    # with every row weighted (tokens come three a line), a row without its weight, or a
    # comment line of another width before it
    path.write_text("1 2 0.5\n3 4 1e3\n")
    assert gio.read_edgelist(path).ids.tolist() == [1, 2, 3, 4]
    for text in ("1 2 0.5\n3 007 1e3\n", "1 2 0.5\n3 4\n007 2 2\n", "7 2 0.5\n# x\n007 3 1\n"):
        path.write_text(text)
        assert "007" in gio.read_edgelist(path).ids.tolist()


@pytest.mark.parametrize(
    "text",
    ["source,target\n1,2\n2,3\n", "from to weight\na b 1\nb c 2\n", "src\tdst\nx\ty\ny\tz\n"],
)
def test_header_line_is_not_an_edge(tmp_path, text):
    path = tmp_path / "e.txt"
    path.write_text(text)
    ids = [str(i) for i in gio.read_edgelist(path).ids]
    assert not {"source", "target", "from", "to", "src", "dst"} & set(ids) and len(ids) == 3


def test_zero_weight_is_no_edge(tmp_path):
    path = tmp_path / "e.txt"
    path.write_text("a b 0\nb c 2\n")
    edges = gio.read_edgelist(path)
    assert list(edges.ids) == ["a", "b", "c"] and edges.weight.tolist() == [2.0]


@pytest.mark.parametrize(
    "data,line,what",
    [
        (b"\xef\xbb\xbf# comment\n1 2 3 4\n", 2, "at most 3 columns"),
        (b"a b\nc\xff d\n", 2, "not UTF-8"),
        (b"a b 1\nb c -2\n", 2, "finite number >= 0"),
    ],
)
def test_messages_name_the_line(tmp_path, data, line, what):
    path = tmp_path / "e.txt"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        gio.read_edgelist(path)
    assert info.value.line == line and what in info.value.what


def test_gzip_edge_list(tmp_path):
    import gzip

    path = tmp_path / "e.txt.gz"
    path.write_bytes(gzip.compress(b"a b\nb c\n"))
    assert list(gio.read_edgelist(path).ids) == ["a", "b", "c"]


def test_long_ids_are_cut_in_messages(tmp_path):
    (tmp_path / "n.txt").write_text("a\nb\n")
    path = tmp_path / "e.txt"
    path.write_text("a b\nb " + "x" * 5000 + "\n")
    with pytest.raises(InputError) as info:
        gio.read_edgelist(path, gio.read_nodes(tmp_path / "n.txt"))
    assert len(str(info.value)) < 300 and "np.str_" not in str(info.value)


def test_duplicate_label_line_is_refused(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("0 x\n1 y\n1 y\n")
    with pytest.raises(InputError, match="twice") as info:
        gio.read_labels(path, np.arange(3), 3)
    assert info.value.line == 3


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    edges = tmp_path / "e.txt"
    edges.write_text("".join(f"{i} {(i + 1) % 30}\n{i} {(i + 7) % 30}\n" for i in range(30)))
    np.save(tmp_path / "emb.npy", rng.normal(size=(30, 4)).astype(np.float32))
    (tmp_path / "emb.nodes.txt").write_text("".join(f"{i}\n" for i in range(30)))
    (tmp_path / "lab.txt").write_text("".join(f"{i} {i % 3}\n" for i in range(30)))
    (tmp_path / "one.txt").write_text("".join(f"{i} 0\n" for i in range(30)))
    np.save(tmp_path / "X.npy", rng.normal(size=(40, 5)).astype(np.float32))
    np.save(tmp_path / "nan.npy", np.full((30, 4), np.nan, np.float32))
    (tmp_path / "nan.nodes.txt").write_text("".join(f"{i}\n" for i in range(30)))
    (tmp_path / "overlap.json").write_text('{"train": [0, 1, 2, 3], "val": [4], "test": [3, 5]}')
    np.savez(tmp_path / "obj.npz", a=np.array([{"x": 1}], dtype=object))
    (tmp_path / "ids.nodes.txt").mkdir()
    return tmp_path


CASES = [
    (["embed", "e.txt", "-o", "o.npy", "--seed", "-1"], "seed"),
    (["embed", "e.txt", "-o", "o.npy", "--device", "foo"], "unknown device"),
    (["embed", "e.txt", "-o", "o.npy", "--encoder", "gcn"], "needs node features"),
    (["embed", "e.txt", "-o", "emb.nodes.txt/o.npy"], "o.npy"),
    (["embed", "e.txt", "-o", "ids.npy"], "ids.nodes.txt: is a folder"),
    (["eval", "nodes", "emb.npy", "one.txt"], "one class"),
    (["eval", "nodes", "nan.npy", "lab.txt"], "NaN"),
    (["eval", "nodes", "emb.npy", "lab.txt", "--split", "none.json"], "no such file"),
    (["eval", "nodes", "emb.npy", "lab.txt", "--split", "overlap.json"], "share"),
    (["eval", "nodes", "emb.npy", "lab.txt", "--seeds", "0"], "seeds"),
    (["eval", "nodes", "emb.npy", "lab.txt", "--train-ratio", "1"], "train ratio"),
    (["eval", "nodes", "emb.npy", "lab.txt", "--train-ratio", "0"], "train ratio"),
    (["eval", "nodes", "emb.npy", "lab.txt", "--train-ratio", "-0.5"], "train ratio"),
    (["eval", "links", "e.txt", "--val", "2"], "held-out"),
    (["eval", "links", "e.txt", "--test", "-1"], "held-out"),
    (["eval", "links", "e.txt", "--seeds", "0"], "seeds"),
    (["reduce", "X.npy", "-o", "o.npy", "--k", "0"], "--k"),
    (["reduce", "obj.npz", "-o", "o.npy"], "Python objects"),
    (
        ["distill", "--teacher", "emb.npy", "--inputs", "X.npy", "-o", "s.pt", "--hidden", "-5"],
        "--hidden",
    ),
    (["apply", "s.pt", "X.npy", "-o", "o.npy", "--device", "cuda:99"], "device"),
]


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a[:3]) for a, _ in CASES])
def test_clear_errors_exit_2_nothing_written(files, monkeypatch, args, message):
    monkeypatch.chdir(files)
    before = sorted(p.name for p in files.iterdir())
    res = (
        run(*args, "-q")
        if args[0] in ("embed", "reduce", "distill") or args[:2] == ["eval", "links"]
        else run(*args)
    )
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error:") and message in res.output.replace("\n", " "), res.output
    assert sorted(p.name for p in files.iterdir()) == before


def test_help_keeps_square_brackets():
    res = run("embed", "--help")
    assert "source target [weight]" in " ".join(res.output.split())

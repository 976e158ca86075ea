import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from genurl_graph.cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def edge_file(tmp_path):
    from conftest import planted_edges

    edges, y = planted_edges(p_in=0.5, p_out=0.005)
    path = tmp_path / "edges.txt"
    path.write_text("# planted\n" + "\n".join(f"n{u},n{v}" for u, v in edges) + "\n")
    (tmp_path / "labels.txt").write_text("\n".join(f"n{i} {c}" for i, c in enumerate(y)) + "\n")
    return path


def test_embed_then_eval_nodes(tmp_path, edge_file):
    out = tmp_path / "emb.npy"
    res = run("embed", edge_file, "-o", out, "-q")
    assert res.exit_code == 0, res.output
    Z = np.load(out)
    ids = (tmp_path / "emb.nodes.txt").read_text().split()
    assert Z.shape == (90, 128) and ids[0] == "n0" and len(ids) == 90
    res = run(
        "eval", "nodes", out, tmp_path / "labels.txt", "--seeds", 2, "--json", tmp_path / "r.json"
    )
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["metrics"]["accuracy"]["mean"] > 0.8
    assert "accuracy" in res.output


def test_eval_links(tmp_path, edge_file):
    res = run("eval", "links", edge_file, "-q", "--json", tmp_path / "l.json")
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "l.json").read_text())["metrics"]
    assert {"auc", "ap", "hits@10", "hits@50", "hits@100"} <= set(metrics)
    assert metrics["auc"]["mean"] > 0.7


def test_embed_cora_with_features_public_split(tmp_path):
    data = ROOT / "datasets" / "cora"
    out = tmp_path / "cora.csv"
    res = run(
        "embed",
        data / "edges.txt",
        "--features",
        data / "features.npz",
        "-o",
        out,
        "--epochs",
        3,
        "--dim",
        16,
        "-q",
    )
    assert res.exit_code == 0, res.output
    assert out.read_text().splitlines()[0].startswith("node,z0")
    res = run("eval", "nodes", out, data / "labels.txt")
    assert res.exit_code == 0 and "public" in res.output, res.output


@pytest.mark.parametrize(
    "content,extra,message",
    [
        ("", [], "file is empty"),
        ("a b\nc\n", [], "edges.txt:2: expected 'source target [weight]'"),
        ("a b x\n", [], "edges.txt:1: weight 'x' is not a number"),
        ("a a\n", [], "no edges after removing self-loops"),
        ("a b 0\nb c 0\n", [], "no edges after removing self-loops (and weight-0 lines)"),
        ("a b\n", ["--dim", "0"], "--dim must be at least 1"),
    ],
)
def test_embed_bad_input_exit_2_no_output(tmp_path, content, extra, message):
    path = tmp_path / "edges.txt"
    path.write_text(content)
    out = tmp_path / "emb.npy"
    res = run("embed", path, "-o", out, "-q", *extra)
    assert res.exit_code == 2 and message in res.output.replace("\n", ""), res.output
    assert not out.exists() and not (tmp_path / "emb.nodes.txt").exists()


def test_embed_missing_output_folder(tmp_path, edge_file):
    res = run("embed", edge_file, "-o", tmp_path / "no" / "emb.npy", "-q")
    assert res.exit_code == 2 and "folder does not exist" in res.output


def test_eval_nodes_unknown_node(tmp_path, edge_file):
    out = tmp_path / "emb.npy"
    assert run("embed", edge_file, "-o", out, "--dim", 4, "--epochs", 2, "-q").exit_code == 0
    (tmp_path / "bad.txt").write_text("n0 1\nghost 2\n")
    res = run("eval", "nodes", out, tmp_path / "bad.txt")
    assert res.exit_code == 2 and "bad.txt:2: node 'ghost'" in res.output.replace("\n", "")


def test_console_entry_point(tmp_path, edge_file):
    exe = Path(sys.executable).with_name("genurl")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "genurl_graph.cli.main"]
    proc = subprocess.run(
        cmd + ["embed", str(edge_file), "-o", str(tmp_path / "x.npy"), "--dim", "0"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error:")
    assert "Traceback" not in proc.stderr


def test_cli_start_and_bad_input_do_not_import_torch(tmp_path):
    """`genurl --help`, every subcommand's --help and a refused input of each command stay clear
    of torch, DGL and scikit-learn (under 0.5 s: torch alone takes 1-2 s). All in one process,
    one after another: any import shows up in sys.modules for the rest."""
    import json as _json

    missing = str(tmp_path / "missing")
    out_npy = str(tmp_path / "o.npy")
    runs = (
        [["--help"]]
        + [
            [*c.split(), "--help"]
            for c in (
                "embed",
                "demo",
                "reduce",
                "distill",
                "apply",
                "ssl",
                "plot",
                "partition",
                "embed-dist",
                "info",
                "eval nodes",
                "eval links",
                "eval ogb",
            )
        ]
        + [
            ["reduce", missing + ".npy", "-o", out_npy],
            ["reduce", missing + ".npy", "-o", out_npy, "--seed", "-1"],
            ["embed", missing + ".txt", "-o", out_npy, "--device", "foo"],
            ["embed", missing + ".txt", "-o", out_npy],
            ["apply", missing + ".pt", missing + ".npy", "-o", out_npy],
            ["ssl", missing + ".npy", "-o", out_npy],
            ["plot", missing + ".npy", "-o", str(tmp_path / "o.png")],
            ["partition", missing + ".txt", "-o", str(tmp_path / "parts"), "--parts", "2"],
            ["eval", "nodes", missing + ".npy", missing + ".txt"],
            ["eval", "links", missing + ".txt"],
            ["eval", "ogb", missing + ".npy", "--dataset", "ogbn-arxiv", "--root", missing],
            ["demo", "--dataset", "nosuch"],
        ]
    )
    code = (
        "import json, sys; from genurl_graph.cli.main import app\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    try:\n        app(args)\n    except SystemExit as exc:\n        code = exc.code\n"
        "    print('@@', args[0], code, sorted(m for m in ('torch', 'dgl', 'sklearn') if m in "
        "sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, _json.dumps(runs)], capture_output=True, text=True
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@ ")]
    assert len(lines) == len(runs), (proc.stdout, proc.stderr)
    for args, line in zip(runs, lines):
        assert line.endswith(" []"), (args, line, proc.stderr)
        assert line.split()[2] == ("0" if "--help" in args else "2"), (args, line, proc.stderr)


def test_console_entry_ends_with_the_command_status_and_its_output_written(tmp_path):
    """`genurl` (cli.main.main) skips the interpreter's teardown: the status is still the
    command's, stdout and stderr are flushed, the output file is whole."""
    data = tmp_path / "x.csv"
    np.savetxt(data, np.random.default_rng(0).normal(size=(40, 3)), delimiter=",")
    out = tmp_path / "z.npy"
    script = "import sys; from genurl_graph.cli.main import main; sys.argv[0] = 'genurl'; main()"
    ok = subprocess.run(
        [sys.executable, "-c", script, "reduce", str(data), "-o", str(out), "--epochs", "5"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert np.load(out).shape == (40, 2) and "40 points" in ok.stderr
    bad = subprocess.run(
        [sys.executable, "-c", script, "reduce", str(tmp_path / "no.csv"), "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "no such file" in bad.stderr

"""Distributed embedding on DistDGL (genurl_graph.distributed).

The fast tests run everywhere (also without DGL). The 2-machine test emulates two machines, each
in its own network namespace with a private /dev/shm (needs root, `ip netns`, `unshare`); it
takes minutes on 2 cores, so it runs only with GENURL_TEST_DIST=1 (`make test-dist`)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from genurl_graph.cli.main import app
from genurl_graph._deps import dgl_available

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
needs_dgl = pytest.mark.skipif(not dgl_available(), reason="needs DGL")


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def write_sbm(folder: Path, n_per=60, blocks=4, seed=0):
    """A planted-community graph with string ids, nodes listed in a shuffled order."""
    from conftest import planted_edges

    edges, y = planted_edges(n_per=n_per, blocks=blocks, p_in=0.15, p_out=0.01, seed=seed)
    n = len(y)
    order = np.random.default_rng(seed).permutation(n)
    (folder / "nodes.txt").write_text("".join(f"v{i}\n" for i in order))
    (folder / "edges.txt").write_text("".join(f"v{u}\tv{v}\n" for u, v in edges))
    (folder / "labels.txt").write_text("".join(f"v{i} {y[i]}\n" for i in range(n)))
    return folder / "edges.txt", folder / "nodes.txt", folder / "labels.txt"


def test_without_dgl_the_commands_say_what_they_need(tmp_path, monkeypatch):
    import genurl_graph._deps as deps

    def missing():
        raise ImportError("this feature needs DGL: `pip install dgl==1.1.3 packaging`")

    monkeypatch.setattr(deps, "require_dgl", missing)
    edges, _, _ = write_sbm(tmp_path, n_per=10, blocks=2)
    res = run("partition", edges, "--parts", 2, "-o", tmp_path / "parts")
    assert res.exit_code == 2
    assert "DistDGL" in res.output and "pip install dgl" in res.output
    assert not (tmp_path / "parts").exists()


def test_embed_dist_outside_a_launcher_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("DGL_ROLE", raising=False)
    res = run("embed-dist", "-o", tmp_path / "emb.npy")
    assert res.exit_code == 2 and "launcher" in res.output
    assert not (tmp_path / "emb.npy").exists()


def test_launch_commands_are_those_of_dgl_launch_py():
    from genurl_graph.distributed.emulate import launch_commands

    m = launch_commands(
        ["10.0.0.1", "10.0.0.2"],
        "p/genurl.json",
        "ip.txt",
        "python3 -m genurl_graph.cli embed-dist -o e.npy",
        num_trainers=2,
    )
    assert len(m) == 2 and len(m[1]) == 2
    server, trainer = m[1]
    assert (
        "DGL_ROLE=server" in server and "DGL_SERVER_ID=1" in server and "DGL_NUM_CLIENT=4" in server
    )
    assert server.endswith("python3 -m genurl_graph.cli embed-dist -o e.npy")
    assert "DGL_ROLE=client" in trainer and "DGL_DIST_MODE=distributed" in trainer
    assert (
        "python3 -m torch.distributed.launch --nproc_per_node=2 --nnodes=2 --node_rank=1 "
        "--master_addr=10.0.0.1 --master_port=1234 -m genurl_graph.cli embed-dist"
    ) in trainer


def test_launch_commands_leave_a_command_without_python_unwrapped():
    # launch.py wraps only commands that name python: `genurl embed-dist` runs as it is, one
    # trainer per machine with no torch.distributed.launch process beside it
    from genurl_graph.distributed.emulate import launch_commands

    m = launch_commands(["10.0.0.1", "10.0.0.2"], "p.json", "ip.txt", "/v/bin/genurl embed-dist")
    server, trainer = m[0]
    assert "torch.distributed.launch" not in trainer
    assert trainer.endswith("/v/bin/genurl embed-dist") and "DGL_NUM_CLIENT=2" in trainer


@needs_dgl
def test_an_unwrapped_trainer_refuses_more_trainers_than_machines(tmp_path, monkeypatch):
    from genurl_graph.distributed.train import _join_group
    from genurl_graph.errors import InputError

    ip = tmp_path / "ip.txt"
    ip.write_text("10.0.0.1 30050\n10.0.0.2 30050\n")
    for var in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DGL_NUM_CLIENT", "4")
    with pytest.raises(InputError, match="name python"):
        _join_group(None, ip)


def test_local_rank_is_moved_behind_the_sub_command(tmp_path):
    # torch.distributed.launch starts `python -m genurl_graph.cli --local-rank=0 embed-dist ...`
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGL_")}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "genurl_graph.cli",
            "--local-rank=0",
            "embed-dist",
            "-o",
            str(tmp_path / "e.npy"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert res.returncode == 2 and "launcher" in res.stderr, res.stderr


@needs_dgl
def test_partition_writes_config_id_map_and_start(tmp_path):
    from genurl_graph import read_graph
    from genurl_graph.distributed import partition

    edges, nodes, _ = write_sbm(tmp_path, n_per=30, blocks=3)
    res = run(
        "partition",
        edges,
        "--nodes",
        nodes,
        "--parts",
        2,
        "-o",
        tmp_path / "parts",
        "-q",
        "--dim",
        16,
    )
    assert res.exit_code == 0, res.output
    assert "edge cuts" not in res.output and "peak mem" not in res.output  # DGL's chatter
    parts = tmp_path / "parts"
    config = json.loads((parts / "genurl.json").read_text())
    settings = json.loads((parts / "genurl_settings.json").read_text())
    assert config["num_parts"] == 2 and settings["num_nodes"] == 90 and settings["dim"] == 16
    node_map = np.load(parts / "genurl_node_map.npy")
    assert sorted(node_map.tolist()) == list(range(90))  # a permutation: every user row once
    ids = (parts / "genurl_nodes.txt").read_text().split()
    assert ids == nodes.read_text().split()  # the user's order (--nodes), not the partition's
    ranges = config["node_map"]["_N"]
    start = np.concatenate([np.load(parts / f"part{i}" / "genurl_init.npy") for i in range(2)])
    assert start.shape == (90, 16) and ranges[-1][1] == 90
    # the start is the spectral start `genurl embed` uses, row for row through the id map
    from genurl_graph.model import GenURL
    from genurl_graph.tasks import ge

    graph = read_graph(edges, nodes=nodes)
    m = GenURL(task="ge", dim=16)
    _, table, _, _, _ = ge.wire(
        graph,
        "table",
        16,
        ge.WITH_FEATURES.k,
        m.hops,
        m.alpha,
        512,
        m.walks_per_node,
        m.walk_length,
        m.window,
        0,
    )
    np.testing.assert_allclose(start, table.weight.detach().numpy()[node_map], atol=1e-6)
    from genurl_graph.errors import InputError
    from genurl_graph.graphs import Graph

    with pytest.raises(InputError, match="structure-only"):
        partition(
            Graph(graph.adj, graph.ids, np.ones((90, 3), dtype=np.float32)), tmp_path / "p2", 2
        )
    assert not (tmp_path / "p2").exists()


def _can_emulate():
    return (
        os.environ.get("GENURL_TEST_DIST") == "1"
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
        and shutil.which("ip")
        and shutil.which("unshare")
        and dgl_available()
    )


def _run_two_machines(tmp_path, udf, tag):
    from genurl_graph.distributed.emulate import Cluster, launch_commands

    with Cluster(2) as cluster:
        ip_config = cluster.write_ip_config(tmp_path / "ip_config.txt")
        machines = launch_commands(
            cluster.hosts, tmp_path / "parts" / "genurl.json", ip_config, udf, omp_threads=1
        )
        logs = [open(tmp_path / f"{tag}{i}.log", "w") for i in range(2)]
        result = cluster.run(machines, tmp_path, logs, timeout=900)
    for log in logs:
        log.close()
    tails = "\n".join((tmp_path / f"{tag}{i}.log").read_text()[-3000:] for i in range(2))
    assert result["returncodes"] == [0, 0], tails


@pytest.mark.skipif(
    not _can_emulate(),
    reason="GENURL_TEST_DIST=1, root, ip netns, unshare and DGL needed (make test-dist)",
)
def test_two_emulated_machines_match_one_process(tmp_path):
    from genurl_graph.eval.tasks import node_classification

    edges, nodes, labels = write_sbm(tmp_path, n_per=150, blocks=4)
    epochs = 4
    res = run("partition", edges, "--nodes", nodes, "--parts", 2, "-o", tmp_path / "parts", "-q")
    assert res.exit_code == 0, res.output
    res = run(
        "embed", edges, "--nodes", nodes, "--epochs", epochs, "-o", tmp_path / "single.npy", "-q"
    )
    assert res.exit_code == 0, res.output
    # `genurl embed-dist`: the launcher runs it as it is (one trainer per machine)
    genurl = Path(sys.executable).parent / "genurl"
    _run_two_machines(
        tmp_path,
        f"{genurl} embed-dist -q --epochs {epochs} -o {tmp_path / 'dist.npy'}",
        "trained",
    )
    single_ids = (tmp_path / "single.nodes.txt").read_text().split()
    dist_ids = (tmp_path / "dist.nodes.txt").read_text().split()
    assert dist_ids == single_ids == nodes.read_text().split()
    Z1, Z2 = np.load(tmp_path / "single.npy"), np.load(tmp_path / "dist.npy")
    assert Z2.shape == Z1.shape and np.isfinite(Z2).all()
    a1 = node_classification(tmp_path / "single.npy", labels, None, True, 3, 0.5)["metrics"][
        "accuracy"
    ]["mean"]
    a2 = node_classification(tmp_path / "dist.npy", labels, None, True, 3, 0.5)["metrics"][
        "accuracy"
    ]["mean"]
    assert a1 > 0.8 and a2 >= a1 - 0.03, (a1, a2)
    # the default on a small graph (no epochs: the closed-form start) is `genurl embed`'s, row for
    # row
    res = run("embed", edges, "--nodes", nodes, "-o", tmp_path / "single0.npy", "-q")
    assert res.exit_code == 0, res.output
    # `python3 -m genurl_graph.cli embed-dist`: under torch.distributed.launch
    py = Path(sys.executable).parent / "python3"
    _run_two_machines(
        tmp_path, f"{py} -m genurl_graph.cli embed-dist -q -o {tmp_path / 'dist0.npy'}", "start"
    )
    assert (tmp_path / "dist0.nodes.txt").read_text() == (
        tmp_path / "single0.nodes.txt"
    ).read_text()
    np.testing.assert_allclose(
        np.load(tmp_path / "dist0.npy"), np.load(tmp_path / "single0.npy"), atol=1e-5
    )

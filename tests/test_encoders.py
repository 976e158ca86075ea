"""The encoder registry, model files of graph encoders (ppr, sgc, gcn) and `genurl apply` on
them."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import planted_edges
from genurl_graph import GenURL, as_graph
from genurl_graph.cli.main import app
from genurl_graph.encoders import REGISTRY, build_encoder, encoder_config, from_config


def featured(seed=0):
    """An SBM whose features carry the blocks too: (graph with features, labels, edges,
    features)."""
    edges, y = planted_edges(seed=seed)
    rng = np.random.default_rng(seed)
    X = (np.eye(3)[y] * 2 + rng.random((len(y), 3))).repeat(4, 1).astype(np.float32)
    return as_graph(edges, X), y, edges, X


@pytest.mark.parametrize(
    "name, kw",
    [
        ("mlp", {"in_dim": 6, "dim": 3, "hidden": 8, "norm": "standard"}),
        ("ppr", {"in_dim": 6, "dim": 3, "hidden": 8, "layers": 2}),
        ("gcn", {"in_dim": 6, "dim": 3, "hidden": 8}),
        ("cnn", {"channels": 1, "dim": 3, "width": 4}),
        ("table", {"num_nodes": 5, "dim": 3}),
    ],
)
def test_every_registered_encoder_round_trips_its_config_and_resets(name, kw):
    torch.manual_seed(0)
    enc = REGISTRY[name](**kw)
    config = encoder_config(enc)
    assert config["class"] == name
    again = from_config(config)
    assert type(again) is type(enc) and again.config() == enc.config()
    assert {k: v.shape for k, v in again.state_dict().items()} == {
        k: v.shape for k, v in enc.state_dict().items()
    }
    before = [p.detach().clone() for p in enc.parameters() if p.dim() > 1]
    enc.reset_parameters()
    after = [p.detach() for p in enc.parameters() if p.dim() > 1]
    assert before and not any(torch.equal(a, b) for a, b in zip(before, after))


def test_sgc_is_propagation_without_restart():
    g, y, _, _ = featured()
    enc = build_encoder("sgc", g, 4)
    assert enc.config()["alpha"] == 0.0 and enc.config()["hops"] == 3
    m = GenURL(encoder="sgc", dim=8, epochs=30).fit(g)
    assert m.encoder_name_ == "sgc" and m.embeddings_.shape == (90, 8)
    np.testing.assert_allclose(m.transform(g), m.embeddings_, atol=1e-5)
    Z = m.embeddings_
    centres = np.stack([Z[y == c].mean(0) for c in range(3)])
    assert (((Z[:, None] - centres[None]) ** 2).sum(-1).argmin(1) == y).mean() > 0.9
    with pytest.raises(Exception, match="unknown encoder"):
        build_encoder("sgcn", g, 4)


@pytest.mark.parametrize("encoder", ["ppr", "sgc", "gcn"])
def test_graph_encoders_save_and_load_with_their_params(tmp_path, encoder):
    g, _, _, _ = featured()
    m = GenURL(encoder=encoder, dim=6, epochs=3, hidden=16, random_state=3).fit(g)
    m.save(tmp_path / "m.pt")
    back = GenURL.load(tmp_path / "m.pt")
    assert back.get_params() == {**m.get_params(), "progress": None}
    assert back.encoder_name_ == encoder
    np.testing.assert_allclose(back.transform(g), m.transform(g), atol=1e-6)


def test_apply_embeds_new_nodes_of_a_graph_embedding(tmp_path):
    g, _, edges, X = featured()
    m = GenURL(dim=6, epochs=3, random_state=1).fit(g)  # the default featured encoder, ppr
    m.save(tmp_path / "ge.pt")
    new_g, _, new_edges, new_X = featured(seed=1)
    np.savetxt(tmp_path / "new.txt", new_edges, fmt="%d")
    np.save(tmp_path / "new.npy", new_X)
    (tmp_path / "new.nodes.txt").write_text("".join(f"{i}\n" for i in range(len(new_X))))
    run = CliRunner().invoke
    res = run(
        app,
        [
            "apply",
            str(tmp_path / "ge.pt"),
            str(tmp_path / "new.npy"),
            "--graph",
            str(tmp_path / "new.txt"),
            "-o",
            str(tmp_path / "Z.npy"),
        ],
    )
    assert res.exit_code == 0, res.output
    np.testing.assert_allclose(np.load(tmp_path / "Z.npy"), m.transform(new_g), atol=1e-5)
    res = run(
        app,
        [
            "apply",
            str(tmp_path / "ge.pt"),
            str(tmp_path / "new.npy"),
            "-o",
            str(tmp_path / "Y.npy"),
        ],
    )
    assert res.exit_code == 2 and "--graph" in res.output and not (tmp_path / "Y.npy").exists()

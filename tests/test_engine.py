import numpy as np
import torch

from genurl_graph.encoders import Table
from genurl_graph.engine import Trainer, gkl_loss
from genurl_graph.engine.loss import nu_schedule


def sbm_edges(sbm):
    edges, y = sbm
    src = np.concatenate([edges[:, 0], edges[:, 1]])
    dst = np.concatenate([edges[:, 1], edges[:, 0]])
    return (src, dst, np.ones(len(src), np.float32)), y


def test_loss_prefers_close_neighbours():
    src, dst = torch.tensor([0]), torch.tensor([1])
    p, pool = torch.tensor([1.0]), torch.tensor([2])
    near = torch.tensor([[0.0, 0], [0.1, 0], [5, 5]])
    far = torch.tensor([[0.0, 0], [5, 5], [0.1, 0]])
    assert gkl_loss(near, src, dst, p, pool, 1.0) < gkl_loss(far, src, dst, p, pool, 1.0)


def test_training_lowers_loss_and_separates_blocks(sbm):
    edges, y = sbm_edges(sbm)
    enc = Table(len(y), 8, init_scale=1.0)
    result = Trainer(epochs=150, lr=0.05, seed=0).fit(enc, None, edges, len(y))
    assert result.losses[-1] < 0.8 * result.losses[0]
    Z = enc.weight.detach().numpy()
    centres = np.stack([Z[y == c].mean(0) for c in range(3)])
    nearest = ((Z[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == y).mean() > 0.95


def test_same_seed_same_embedding_bit_for_bit(sbm):
    edges, y = sbm_edges(sbm)
    out = []
    for _ in range(2):
        torch.manual_seed(0)
        enc = Table(len(y), 4)
        Trainer(epochs=5, lr=0.05, seed=3, batch_size=100).fit(enc, None, edges, len(y))
        out.append(enc.weight.detach().clone())
    assert torch.equal(out[0], out[1])


def test_early_stop_on_plateau(sbm):
    edges, y = sbm_edges(sbm)
    result = Trainer(epochs=500, lr=0.0, patience=5).fit(Table(len(y), 4), None, edges, len(y))
    assert result.stopped_early and len(result.losses) < 50


def test_nu_schedule():
    assert nu_schedule(0.5, None, 3, 10) == 0.5
    assert abs(nu_schedule(0.001, 100, 0, 100) - 0.001) < 1e-12
    assert abs(nu_schedule(0.001, 100, 99, 100) - 100) < 1e-9
    mid = nu_schedule(0.001, 100, 45, 100)
    assert 0.001 < mid < 100

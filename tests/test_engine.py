import os

import numpy as np
import pytest
import torch

from genurl_graph.encoders import Table
from genurl_graph.engine import EdgeStream, Trainer, TrainConfig, gkl_loss
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
    result = Trainer(epochs=150, lr=0.05, seed=0).fit(enc, EdgeStream(None, edges, len(y)))
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
        Trainer(TrainConfig(epochs=5, lr=0.05, batch_size=100), seed=3).fit(
            enc, EdgeStream(None, edges, len(y))
        )
        out.append(enc.weight.detach().clone())
    assert torch.equal(out[0], out[1])


class _ViaAutograd(Table):
    """A table whose output is not its own parameter: the trainer takes the autograd path."""

    def forward(self, inputs=None):
        return self.weight * 1.0


@pytest.mark.parametrize("form", ["sampled", "normalized", "sne"])
def test_free_table_sgd_skips_autograd_with_the_same_steps(sbm, form):
    """A free table under plain SGD takes its closed-form gradient directly (no autograd graph):
    the same weights, bit for bit, as backward through the loss gives, batches included. The
    compiled ``sne`` step (numba) applies the summed gradient, where backward divides the mean's
    gradient by the edge count and the step multiplies it back: equal up to float rounding."""
    from genurl_graph.engine.loss import _compiled_sne

    edges, y = sbm_edges(sbm)
    config = TrainConfig(
        epochs=6, lr=0.5, optimizer="sgd", lr_decay=True, form=form, batch_size=300, clip=0.05
    )
    out = []
    for cls in (Table, _ViaAutograd):
        torch.manual_seed(0)
        enc = cls(len(y), 2)
        start = enc.weight.detach().clone()
        losses = Trainer(config, seed=1).fit(enc, EdgeStream(None, edges, len(y))).losses
        out.append((enc.weight.detach().clone(), losses))
    if form == "sne" and _compiled_sne("cpu", torch.float32):
        torch.testing.assert_close(out[0][0], out[1][0], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-5)
    else:
        assert torch.equal(out[0][0], out[1][0]) and out[0][1] == out[1][1]
    assert not torch.equal(out[0][0], start)  # it did train


def test_early_stop_on_plateau(sbm):
    edges, y = sbm_edges(sbm)
    result = Trainer(epochs=500, lr=0.0, patience=5).fit(
        Table(len(y), 4), EdgeStream(None, edges, len(y))
    )
    assert result.stopped_early and len(result.losses) < 50


def test_a_hook_that_changes_p_restarts_the_plateau_test(sbm):
    edges, y = sbm_edges(sbm)
    stream = EdgeStream(None, edges, len(y))
    calls = []

    def hook(epoch, encoder):
        calls.append(epoch)
        return epoch == 4  # "P_X changed" at epoch 4

    result = Trainer(epochs=500, lr=0.0, patience=5).fit(Table(len(y), 4), stream, [hook])
    assert calls == list(range(len(result.losses)))
    # the test restarts at epoch 4: 5 more at least
    assert result.stopped_early and len(result.losses) >= 10


def test_train_config_refuses_bad_settings():
    import pytest

    for bad in ({"optimizer": "lbfgs"}, {"form": "exact"}, {"negatives": -1}, {"epochs": -1}):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


def test_nu_schedule():
    assert nu_schedule(0.5, None, 3, 10) == 0.5
    assert abs(nu_schedule(0.001, 100, 0, 100) - 0.001) < 1e-12
    assert abs(nu_schedule(0.001, 100, 99, 100) - 100) < 1e-9
    mid = nu_schedule(0.001, 100, 45, 100)
    assert 0.001 < mid < 100


def _loss_case(seed: int, n: int = 40, edges: int = 300):
    """(rng, n, src, dst, p, pool): random P_X edges among n rows and a pool of 16 rows."""
    rng = np.random.default_rng(seed)
    src = torch.from_numpy(rng.integers(0, n, edges))
    dst = torch.from_numpy(rng.integers(0, n, edges))
    p = torch.from_numpy(rng.random(edges))
    pool = torch.from_numpy(rng.integers(0, n, 16))
    return rng, n, src, dst, p, pool


def _assert_same_loss_and_grad(fused, ref, z_fused, z_ref, scale: float) -> None:
    """A closed-form loss agrees with its autograd reference in value and in the gradient of
    ``scale`` times it (float32: 1e-5, float64: 1e-10)."""
    (scale * fused).backward()
    (scale * ref).backward()
    tol = 1e-5 if fused.dtype == torch.float32 else 1e-10
    torch.testing.assert_close(fused, ref, rtol=tol, atol=tol)
    torch.testing.assert_close(z_fused.grad, z_ref.grad, rtol=tol * 10, atol=tol * 10)


def test_fused_sampled_loss_matches_autograd():
    from genurl_graph.engine import loss as L

    rng, n, src, dst, p, pool = _loss_case(0)
    src[:5] = dst[:5]  # self-loops; repeated pairs occur by chance
    for dtype, nu in (
        (torch.float32, 0.5),
        (torch.float64, 0.5),
        (torch.float32, 1.0),
        (torch.float64, 1.0),
    ):
        z0 = torch.from_numpy(rng.normal(size=(n, 2))).to(dtype)
        z0[3] = z0[7]  # a coincident pair: q = 1, the clamped push
        z_fused = z0.clone().requires_grad_()
        z_ref = z0.clone().requires_grad_()
        fused = L.gkl_loss(z_fused, src, dst, p.to(dtype), pool, nu, 7.0, form="sampled")
        old, L.FUSED_MAX_DIM = L.FUSED_MAX_DIM, 0  # force the autograd expression
        try:
            ref = L.gkl_loss(z_ref, src, dst, p.to(dtype), pool, nu, 7.0, form="sampled")
        finally:
            L.FUSED_MAX_DIM = old
        _assert_same_loss_and_grad(fused, ref, z_fused, z_ref, 3)


def test_fused_normalized_loss_matches_autograd():
    from genurl_graph.engine import loss as L

    rng, n, src, dst, p, pool = _loss_case(1)
    for dtype, nu in ((torch.float32, 0.5), (torch.float64, 0.5), (torch.float64, 1.0)):
        z0 = torch.from_numpy(rng.normal(size=(n, 2))).to(dtype)
        z_fused = z0.clone().requires_grad_()
        z_ref = z0.clone().requires_grad_()
        fused = L.gkl_loss(z_fused, src, dst, p.to(dtype), pool, nu, 3.0, "torch", "normalized")
        ref = L._normalized(z_ref, src, dst, p.to(dtype), pool, nu, 3.0, "torch")
        _assert_same_loss_and_grad(fused, ref, z_fused, z_ref, 2)


def test_normalized_form_is_kl_of_row_normalised_q():
    """form="normalized": sum_i mass_i * KL(P_i/mass_i || Q_i) + const, Q_i normalised over the pool
    without i."""
    import torch

    from genurl_graph.engine.loss import gkl_loss, log_q

    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 3, generator=g, dtype=torch.float64)
    src, dst = torch.tensor([0, 0, 1, 3]), torch.tensor([1, 2, 0, 4])
    p = torch.tensor([1.0, 0.5, 1.0, 0.25], dtype=torch.float64)
    pool = torch.arange(6)
    got = gkl_loss(z, src, dst, p, pool, 2.0, 1.0, "torch", "normalized")
    want = 0.0
    for s, d, w in zip(src.tolist(), dst.tolist(), p.tolist()):
        others = [k for k in range(6) if k != s]
        lq = log_q(((z[s] - z[others]) ** 2).sum(1), 2.0)
        want += -w * (log_q(((z[s] - z[d]) ** 2).sum(), 2.0) - torch.logsumexp(lq, 0))
    assert torch.allclose(got, want / 4)


def test_decorrelation_is_zero_for_whitened_and_counts_duplicated_dimensions():
    from genurl_graph.engine.loss import decorrelation

    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 3, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(x - x.mean(0))  # orthonormal, centred columns: whitened after scaling
    assert float(decorrelation(q)) < 1e-10
    dup = torch.cat([q[:, :1], q[:, :1]], 1)  # two identical dimensions: C = [[1, 1], [1, 1]]
    assert abs(float(decorrelation(dup)) - 2.0) < 1e-8


def test_trainer_decorrelate_spreads_the_embedding_over_its_dimensions(sbm):
    from genurl_graph.engine.loss import decorrelation

    edges, y = sbm_edges(sbm)
    out = {}
    for lam in (0.0, 0.05):
        torch.manual_seed(0)
        enc = Table(len(y), 8, init_scale=1.0)
        trainer = Trainer(epochs=100, lr=0.05, seed=0, decorrelate=lam)
        trainer.fit(enc, EdgeStream(None, edges, len(y)))
        out[lam] = float(decorrelation(enc.weight.detach()))
    assert out[0.05] < 0.5 * out[0.0]
    try:
        Trainer(decorrelate=-1.0)
    except ValueError:
        pass
    else:
        raise AssertionError("a negative decorrelate weight was accepted")


@pytest.mark.parametrize("compiled", [False, True], ids=["torch", "numba"])
def test_fused_sne_loss_matches_autograd(compiled, monkeypatch):
    """form="sne": the closed-form gradient (with early exaggeration) agrees with autograd, as
    torch tensor passes and as the compiled kernel (float32 CPU tensors take it)."""
    from genurl_graph.engine import loss as L

    if compiled:
        pytest.importorskip("numba")
        monkeypatch.setattr(L, "_compiled_sne", lambda device, dtype: dtype == torch.float32)
    else:
        monkeypatch.setattr(L, "_compiled_sne", lambda device, dtype: False)

    rng, n, src, dst, p, pool = _loss_case(2)
    pool[0] = src[0]  # a source in the pool: left out of its own Z
    for dtype, nu, att in (
        (torch.float32, 0.5, 1.0),
        (torch.float64, 0.5, 4.0),
        (torch.float64, 1.0, 1.0),
        (torch.float32, 1.0, 12.0),
    ):
        z0 = torch.from_numpy(rng.normal(size=(n, 2))).to(dtype)
        z_fused = z0.clone().requires_grad_()
        z_ref = z0.clone().requires_grad_()
        fused = L.gkl_loss(z_fused, src, dst, p.to(dtype), pool, nu, 3.0, "torch", "sne", att)
        ref = L._sne(z_ref, src, dst, p.to(dtype), pool, nu, 3.0, "torch", att)
        _assert_same_loss_and_grad(fused, ref, z_fused, z_ref, 2)


def test_compiled_sne_kernel_is_deterministic_and_order_free():
    """The numba kernel: the same bits on 1 and 2 threads; shuffled edges (sorted inside) give
    the same loss and gradient up to float rounding; sources without edges and a source drawn
    into the pool are handled as the torch form handles them."""
    pytest.importorskip("numba")
    from genurl_graph.engine import loss as L
    from genurl_graph.kernels.layout_numba import sne_loss_grad

    rng = np.random.default_rng(3)
    n, E = 500, 4000
    src = np.sort(rng.integers(0, n - 20, E))  # the last 20 nodes have no edges
    dst = rng.integers(0, n, E)
    p = rng.random(E).astype(np.float32)
    pool = rng.integers(0, n, 64)
    pool[1] = src[0]
    z = rng.normal(size=(n, 2)).astype(np.float32)
    args = (z, src, dst, p, pool, 1.0, 2.0, 1.5)
    l1, g1 = sne_loss_grad(*args, threads=1)
    l2, g2 = sne_loss_grad(*args, threads=2)
    assert l1 == l2 and np.array_equal(g1, g2)
    perm = rng.permutation(E)
    l3, g3 = sne_loss_grad(z, src[perm], dst[perm], p[perm], pool, 1.0, 2.0, 1.5)
    np.testing.assert_allclose(l3, l1, rtol=1e-5)
    np.testing.assert_allclose(g3, g1, rtol=1e-4, atol=1e-6)
    for z, src, dst, p, nu in (
        (z, src, dst, p, 1.0),
        (z, src, dst, p, 0.7),
        (rng.normal(size=(n, 3)).astype(np.float32), src, dst, p, 1.0),
        (z, *_symmetric_edges(n), 1.0),  # one pass over each row's edges both ways
    ):
        E, edges = len(src), tuple(map(torch.from_numpy, (src, dst, p, pool)))
        got, grad = sne_loss_grad(z, src, dst, p, pool, nu, 2.0, 1.5)  # d = 2 and d = 3 paths
        zt = torch.from_numpy(z).requires_grad_()
        ref = L._sne(zt, *edges, nu, 2.0, "torch", 1.5)
        ref.backward()
        np.testing.assert_allclose(got / E, ref.item(), rtol=1e-5)
        np.testing.assert_allclose(grad / E, zt.grad.numpy(), rtol=1e-4, atol=1e-7)
    from genurl_graph.kernels import layout_numba as K

    assert K._LOCAL.team.par[3] == 1.0  # the symmetric P took the one-pass path
    one = sne_loss_grad(z, src, dst, p, pool, 1.0, 2.0, 1.5, threads=1)
    two = sne_loss_grad(z, src, dst, p, pool, 1.0, 2.0, 1.5, threads=2)
    assert one[0] == two[0] and np.array_equal(one[1], two[1])


def _symmetric_edges(n):
    """A symmetric P (the same p both ways), sorted by source, with a row that has no edge."""
    import scipy.sparse as sp

    a = sp.random(n, n, density=0.02, random_state=np.random.RandomState(4), format="coo")
    a = (a + a.T).tocoo()
    keep = (a.row != a.col) & (a.row != 5) & (a.col != 5)
    row, col, val = a.row[keep], a.col[keep], a.data[keep]
    order = np.lexsort((col, row))
    return row[order].astype(np.int64), col[order].astype(np.int64), val[order].astype(np.float32)


def test_compiled_sne_kernel_gives_the_same_bits_compiled_afresh_and_from_the_disk_cache(tmp_path):
    """A layout's first run in a new environment compiles the kernel, later runs load it from
    numba's disk cache: both must give the same embedding (a ``parallel=True`` kernel did not)."""
    pytest.importorskip("numba")
    import os
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from genurl_graph import GenURL\n"
        "X = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)\n"
        "np.save(sys.argv[1], GenURL(task='dr', epochs=30).fit(X).embeddings_)\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "NUMBA_NUM_THREADS": "2"}
    out = []
    for run in ("fresh", "cached"):
        path = tmp_path / f"{run}.npy"
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        out.append(np.load(path))
    assert any((tmp_path / "cache").rglob("*.nbc"))  # the second run did load from the cache
    assert np.array_equal(out[0], out[1])


def _kernel_case(seed: int, n: int, edges: int, pool: int):
    """(z, src, dst, p, pool) for the compiled kernel: n rows in 2-D, edges sorted by source,
    float32 P, a pool of ``pool`` rows."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2)).astype(np.float32)
    src, dst = np.sort(rng.integers(0, n, edges)), rng.integers(0, n, edges)
    return z, src, dst, rng.random(edges).astype(np.float32), rng.integers(0, n, pool)


def _worker_spinning(K, call, seconds: float = 10.0) -> bool:
    """Whether the calling thread's kernel team has its worker 1 spinning, after up to
    ``seconds`` of ``call()`` (a two-thread call, which calls a gone worker back) whenever
    there is no team yet or the worker has left."""
    import time

    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        team = K._LOCAL.__dict__.get("team")
        if team is not None and team.ctl[1] == K._IDLE:
            return True
        if team is None or team.ctl[1] == K._GONE:
            call()
    return False


def test_compiled_sne_kernel_workers_give_the_lead_alone_bits():
    """With two threads, a worker spinning between calls takes a chunk range: the result is
    the same bits as one thread's, call after call, and the fit's end sends the worker away."""
    pytest.importorskip("numba")
    from genurl_graph.kernels import layout_numba as K

    if K.max_threads() < 2:
        pytest.skip("numba has one thread here")
    z, src, dst, p, _ = _kernel_case(11, 600, 6000, 0)
    pools = [np.random.default_rng(s).integers(0, 600, 64) for s in range(5)]
    alone = [K.sne_loss_grad(z, src, dst, p, pool, 1.0, 1.0, threads=1) for pool in pools]

    def call():
        K.sne_loss_grad(z, src, dst, p, pools[0], 1.0, 1.0, threads=2)

    call()
    for pool, (loss, grad) in zip(pools, alone):
        assert _worker_spinning(K, call)  # so this call posts a range to it
        got = K.sne_loss_grad(z, src, dst, p, pool, 1.0, 1.0, threads=2)
        assert got[0] == loss and np.array_equal(got[1], grad)
    assert _worker_spinning(K, call)
    team = K._LOCAL.team
    K.release()  # sends it away (unless it has just left by itself: a loaded machine)
    assert team.ctl[1] in (K._STOP, K._GONE) and not K._LOCAL.__dict__


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_compiled_sne_kernel_in_a_forked_child_does_not_wait_for_the_parents_workers():
    """A child forked while the parent's worker spins has no such thread: its calls must not
    post to it (and wait forever), but make their own team and give the same bits."""
    pytest.importorskip("numba")
    import time

    from genurl_graph.kernels import layout_numba as K

    args = _kernel_case(12, 400, 4000, 32)
    want = K.sne_loss_grad(*args, 1.0, 1.0, threads=1)
    K.release()  # no team: the first two-thread call below makes one and calls its worker
    if not _worker_spinning(K, lambda: K.sne_loss_grad(*args, 1.0, 1.0, threads=2)):
        pytest.skip("the worker did not start spinning in 10 s (a loaded machine)")
    pid = os.fork()  # while it spins
    if pid == 0:  # the child
        ok = False
        try:
            got = [K.sne_loss_grad(*args, 1.0, 1.0, threads=2) for _ in range(3)]
            ok = all(g[0] == want[0] and np.array_equal(g[1], want[1]) for g in got)
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError("the forked child hung")
    K.release()
    assert os.waitstatus_to_exitcode(status) == 0


def test_compiled_sne_kernel_called_from_two_threads_at_once():
    """The kernel keeps its edge buffers between calls, per thread: two fits of the same size
    running at once in two threads get what each gets alone."""
    pytest.importorskip("numba")
    import threading

    from genurl_graph.kernels.layout_numba import sne_loss_grad

    cases = [(*_kernel_case(seed, 400, 30000, 32), 1.0, 1.0, 1.0) for seed in (5, 6)]
    alone = [sne_loss_grad(*case, threads=2) for case in cases]
    got = [None, None]

    def run(i):
        got[i] = [sne_loss_grad(*cases[i], threads=1) for _ in range(30)]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        for loss, grad in got[i]:
            assert loss == alone[i][0] and np.array_equal(grad, alone[i][1])


def test_compiled_sne_kernel_log_and_kept_rows():
    """The kernel's own log (the nu = 1 pull's loss, vectorised) is within 2e-7 of libm's over
    float32's normal range, its exp as close over (-86, 0], and a NaN q makes the loss NaN (a
    diverged layout is caught); the sorted rows kept from the last call are not reused for
    other sources of the same length."""
    numba = pytest.importorskip("numba")
    from genurl_graph.kernels import layout_numba as K

    rng = np.random.default_rng(7)
    q = np.concatenate([rng.random(20000), 10.0 ** rng.uniform(-37, 0, 20000), [1.0, 0.5]])
    q = q.astype(np.float32)
    w = np.ones_like(q)
    got = np.array([K._minus_log_sum(q, w, e, e + 1) for e in range(len(q))])
    want = -np.log(q.astype(np.float64))
    assert np.all(np.abs(got - want) <= 2e-7 * np.maximum(np.abs(want), 1.0))
    assert np.isclose(K._minus_log_sum(q, w, 0, len(q)), want.sum(), rtol=1e-5)
    assert np.isnan(K._minus_log_sum(np.array([0.5, np.nan, 0.25], np.float32), w, 0, 3))
    x = np.concatenate([-rng.random(20000) * 86, -rng.random(2000) * 1e-4, [0.0]]).astype(
        np.float32
    )
    exp = numba.njit(lambda v: K._exp(v))
    got = np.array([exp(v) for v in x[::11]])  # its exp (the general nu's q), too
    want = np.exp(x[::11].astype(np.float64))
    assert np.all(np.abs(got - want) <= 2e-7 * want)

    n, E = 300, 2000
    z = rng.normal(size=(n, 2)).astype(np.float32)
    dst, p, pool = rng.integers(0, n, E), rng.random(E).astype(np.float32), rng.integers(0, n, 16)
    a, b = np.sort(rng.integers(0, n, E)), np.sort(rng.integers(0, n, E))
    K.sne_loss_grad(z, a, dst, p, pool, 1.0, 1.0, threads=1)
    after_a = K.sne_loss_grad(z, b, dst, p, pool, 1.0, 1.0, threads=1)
    K._LOCAL.rows = None
    fresh = K.sne_loss_grad(z, b, dst, p, pool, 1.0, 1.0, threads=1)
    assert after_a[0] == fresh[0] and np.array_equal(after_a[1], fresh[1])


def test_a_fit_frees_the_kernels_kept_buffers():
    """The compiled kernel keeps its buffers (a team's) and sorted rows between a fit's epochs,
    and drops them, sending its spinning workers away, when the fit ends (a 1.1M-edge P_X kept
    ~20 MB)."""
    pytest.importorskip("numba")
    from genurl_graph import GenURL
    from genurl_graph.kernels import layout_numba as K

    seen, teams = [], []
    step = K.sne_sgd_epochs

    def spy(*args, **kw):
        out = step(*args, **kw)
        seen.append(sorted(K._LOCAL.__dict__))
        teams.append(K._LOCAL.team)
        return out

    X = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    try:
        K.sne_sgd_epochs = spy
        GenURL(task="dr", epochs=3, random_state=0).fit(X)
    finally:
        K.sne_sgd_epochs = step
    assert seen and all({"team", "rows"} <= set(keys) for keys in seen)
    assert not K._LOCAL.__dict__
    # its workers were sent away, none left spinning for work
    assert all(state != K._IDLE for team in teams for state in team.ctl[1:])


@pytest.mark.parametrize("refine", [0, 7])
def test_compiled_runs_of_epochs_give_the_bits_of_one_epoch_at_a_time(refine, monkeypatch):
    """A free layout's epochs run compiled in runs (no Python between them), ending where a
    hook acts (the late phase's switch of P_X, refine's refreshes): the same losses and
    layout, bit for bit, as one epoch at a time."""
    pytest.importorskip("numba")
    from genurl_graph import GenURL
    from genurl_graph.engine import trainer as T
    from genurl_graph.kernels import layout_numba as K

    X = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32)
    runs = []
    epochs = K.sne_sgd_epochs
    monkeypatch.setattr(
        K, "sne_sgd_epochs", lambda *a, **k: runs.append(len(a[5])) or epochs(*a, **k)
    )
    fast = GenURL(task="dr", epochs=60, refine=refine, random_state=3).fit(X)
    assert sum(runs) == 60 and max(runs) > 1  # in runs, not one at a time
    assert runs[:3] == ([7, 7, 7] if refine else [25, 17, 18])  # ending at a refresh, a switch
    monkeypatch.setattr(T.Trainer, "_fit_compiled", lambda *a: False)
    slow = GenURL(task="dr", epochs=60, refine=refine, random_state=3).fit(X)
    assert np.array_equal(fast.embeddings_, slow.embeddings_)
    assert fast.history_.losses == slow.history_.losses


def test_a_hook_that_does_not_say_when_it_acts_runs_at_every_epoch(monkeypatch):
    """A hook without ``next_at`` may act at any epoch: the compiled runs are one epoch long,
    the hook sees every epoch, and the layout is that of one epoch at a time."""
    pytest.importorskip("numba")
    from genurl_graph.engine import trainer as T

    rng = np.random.default_rng(2)
    n = 120
    src = np.repeat(np.arange(n), 4)
    dst = (src + rng.integers(1, n, len(src))) % n
    edges = (torch.as_tensor(src), torch.as_tensor(dst), torch.rand(len(src)))
    cfg = TrainConfig(epochs=12, lr=1.0, optimizer="sgd", form="sne", lr_decay=True, pool=16)

    def fit():
        seen = []
        torch.manual_seed(0)
        enc = Table(n, 2)
        Trainer(cfg, seed=1).fit(enc, EdgeStream(None, edges, n), [lambda e, _: seen.append(e)])
        return seen, enc.weight.detach().numpy().copy()

    from genurl_graph.kernels import layout_numba as K

    runs, epochs = [], K.sne_sgd_epochs
    monkeypatch.setattr(
        K, "sne_sgd_epochs", lambda *a, **k: runs.append(len(a[5])) or epochs(*a, **k)
    )
    seen, fast = fit()
    assert seen == list(range(12)) and runs == [1] * 12  # compiled, one epoch a run
    monkeypatch.setattr(T.Trainer, "_fit_compiled", lambda *a: False)
    assert np.array_equal(fit()[1], fast)


def test_kernel_thread_chooser_keeps_the_faster_count():
    """The compiled kernel's thread count: timed on all threads, then on one, the faster kept
    until the next trial; new sizes start a new trial."""
    pytest.importorskip("numba")
    from genurl_graph.kernels.layout_numba import _ThreadChooser

    for one_s, all_s, want in ((1.0, 2.0, 1), (2.0, 1.0, 4)):
        ch = _ThreadChooser()
        used = []
        for _ in range(2 * ch.TRIAL + 3):
            count = ch.threads("sizes", 4)
            used.append(count)
            ch.took(count, one_s if count == 1 else all_s)
        trial = used[1 : 2 * ch.TRIAL + 1]
        assert trial == [4] * ch.TRIAL + [1] * ch.TRIAL
        assert used[-2:] == [want, want]
        assert ch.period == (2 * ch.PERIOD if want == 1 else ch.PERIOD)  # one thread: rarer
        runs = _ThreadChooser()  # in runs of calls (a layout's compiled epochs): the same counts
        seq = []
        while len(seq) < len(used):
            count, calls = runs.span("sizes", 4)
            calls = min(calls, len(used) - len(seq))
            seq += [count] * calls
            runs.took(count, calls * (one_s if count == 1 else all_s), calls)
        assert seq == used
        ch.took(ch.threads("other sizes", 4), 1.0)  # new sizes: the first call is not timed
        assert ch.threads("other sizes", 4) == 4  # then a new trial
        assert ch.threads("x", 1) == 1


def test_sne_form_is_conditional_kl_over_neighbours_and_scaled_pool():
    """form="sne": sum over edges of -p (log q_ij - log Z_i), Z_i = q over i's edges + n/|pool| x
    the
    pool's q without i, divided by the number of edges."""
    from genurl_graph.engine.loss import gkl_loss, log_q

    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 2, generator=g, dtype=torch.float64)
    src, dst = torch.tensor([0, 0, 1, 3]), torch.tensor([1, 2, 0, 4])
    p = torch.tensor([1.0, 0.5, 1.0, 0.25], dtype=torch.float64)
    pool = torch.tensor([0, 2, 5])
    got = gkl_loss(z, src, dst, p, pool, 1.0, 1.0, "torch", "sne")
    want = 0.0
    for s, d, w in zip(src.tolist(), dst.tolist(), p.tolist()):
        q = lambda j: torch.exp(log_q(((z[s] - z[j]) ** 2).sum(), 1.0))  # noqa: E731
        Z = sum(q(j) for s2, j in zip(src.tolist(), dst.tolist()) if s2 == s)
        Z = Z + 6 / 3 * sum(q(k) for k in pool.tolist() if k != s)
        want += -w * (torch.log(q(d)) - torch.log(Z))
    assert torch.allclose(got, want / 4)

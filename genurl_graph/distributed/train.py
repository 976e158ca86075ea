"""``genurl embed-dist``: one process of a DistDGL job, server or trainer, as DGL's launcher
(``tools/launch.py``) starts it on every machine.

The launcher sets ``DGL_ROLE``: a server process serves its machine's partition from
:func:`dgl.distributed.initialize` and never comes back; it also fills its rows of the
``DistEmbedding`` table (n x dim, held by the servers, each machine its own rows) with the
closed-form start (spectral factors, propagated) that ``genurl partition`` stored beside the
partition (``part<i>/genurl_init.npy``). A trainer (under ``torch.distributed.launch`` where the
launch command names python; alone, one per machine, where it is ``genurl embed-dist``) joins the
gloo process group, opens the ``DistGraph`` and:

- takes its share of the P_X edges (``dgl.distributed.edge_split``, local edges first) and, every
  epoch, visits them once in shuffled batches of ``batch_size / trainers`` edges, each batch's
  sources pushed from ``pool`` nodes drawn over all nodes by degree^0.75: the same settings, loss
  (:func:`genurl_graph.engine.loss.gkl_loss`) and batch size over all trainers as a
  single-process ``genurl embed``; every trainer takes the same number of steps (the smallest
  share decides), since the optimiser's step is a collective. A batch's loss is summed in pieces
  of ``PIECE`` edges, each on its own rows pulled from the table, into one gradient buffer;
- updates only the rows a batch touched, with DGL's ``SparseAdam`` (its state is held by the
  servers beside the table), stepped by :func:`sparse_adam`'s leaner ``apply``.

At the end trainer 0 reads the table back, row block by row block, and writes it in the user's
row order with the user's ids (:func:`genurl_graph.io.write_embeddings`).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import parts as P

TABLE = "genurl_z"
PIECE = 2048  # edges per loss piece
ROWS = 8192  # rows per block of the optimiser's update


def _start_rows(shape, dtype):
    """The table's first value, made by each machine's server for the rows its partition owns
    (DGL calls it there, by name): the closed-form start ``genurl partition`` stored beside the
    partition (``part<i>/genurl_init.npy``), so no trainer holds it."""
    import torch

    folder = Path(os.environ["DGL_CONF_PATH"]).parent
    part = int(os.environ["DGL_SERVER_ID"]) // int(os.environ.get("DGL_NUM_SERVER", 1))
    init = np.load(folder / f"part{part}" / P.INIT)
    if tuple(init.shape) != tuple(shape):
        raise InputError(
            f"part{part}/{P.INIT} holds {init.shape}, the table's rows there {tuple(shape)}",
            folder,
        )
    return torch.from_numpy(init).to(dtype)


def read_settings(part_config) -> dict:
    """The settings ``genurl partition`` wrote beside DGL's partition config."""
    folder = Path(part_config).parent
    try:
        return json.loads((folder / P.SETTINGS).read_text())
    except FileNotFoundError:
        raise InputError(
            f"no {P.SETTINGS} beside the partition config: make it with `genurl partition`",
            part_config,
        ) from None


def embed(
    output,
    part_config=None,
    ip_config=None,
    epochs: int | None = None,
    seed: int | None = None,
    lr: float | None = None,
    progress=None,
    log=None,
) -> dict | None:
    """Run this process's part of a distributed GenURL embedding (see the module docstring).

    ``part_config`` / ``ip_config`` default to ``DGL_CONF_PATH`` / ``DGL_IP_CONFIG`` as the
    launcher sets them. Returns, in trainer 0, a summary (timings, losses, files written); None
    in other trainers. ``progress(epoch, epochs, loss)`` is called in trainer 0."""
    t_entry = time.time()
    role = os.environ.get("DGL_ROLE")
    if role not in ("server", "client"):
        raise InputError(
            "embed-dist is one process of a DistDGL job: start it with DGL's launcher "
            "(tools/launch.py), which sets DGL_ROLE, DGL_IP_CONFIG, DGL_CONF_PATH "
            "(docs/distributed.md)"
        )
    part_config = part_config or os.environ.get("DGL_CONF_PATH")
    ip_config = ip_config or os.environ.get("DGL_IP_CONFIG")
    if not part_config or not Path(part_config).is_file():
        raise InputError("no partition config (--part-config or DGL_CONF_PATH)", part_config)
    if not ip_config or not Path(ip_config).is_file():
        raise InputError("no ip_config (--ip-config or DGL_IP_CONFIG)", ip_config)
    settings = read_settings(part_config)
    if role == "client":
        from ..io import check_output_path

        check_output_path(output)
    _return_freed_memory()
    dgl = P.require_distdgl()
    import torch
    import torch.distributed as dist

    # a server serves its partition in here until every trainer is gone, then exits the process
    dgl.distributed.initialize(str(ip_config))
    _stage("initialized")
    g = dgl.distributed.DistGraph(settings["graph_name"], part_config=str(part_config))
    n, dim = settings["num_nodes"], settings["dim"]
    if g.num_nodes() != n:
        raise InputError(
            f"the partitions hold {g.num_nodes()} nodes, the settings {n}", part_config
        )
    _stage("graph")
    _join_group(g, ip_config)
    _stage("process group")
    t_connected = time.time()
    rank, world = dist.get_rank(), dist.get_world_size()
    emb = dgl.distributed.DistEmbedding(n, dim, name=TABLE, init_func=_start_rows)
    _stage("table")
    u, v, p = _edge_share(dgl, g)
    _stage("edges")
    negw = torch.from_numpy(np.load(Path(part_config).parent / P.NEG_WEIGHTS))
    _stage("negw")
    dist.barrier()
    _stage("barrier")
    t_ready = time.time()
    result = _train(
        emb, u, v, p, negw, settings, rank, world, epochs, seed, lr, progress if rank == 0 else None
    )
    t_trained = time.time()
    written = _write(emb, output, part_config, n, dim) if rank == 0 else None
    dist.barrier()
    t_done = time.time()
    if rank != 0:
        return None
    return {
        "nodes": n,
        "dim": dim,
        "trainers": world,
        "px_edges": settings["num_px_edges"],
        "edges_per_trainer": int(len(u)),
        **result,
        "written": [str(w) for w in written],
        "seconds": {
            "connect": t_connected - t_entry,
            "setup": t_ready - t_connected,
            "train": t_trained - t_ready,
            "write": t_done - t_trained,
        },
        "t_entry": t_entry,
        "t_done": t_done,
    }


def _return_freed_memory() -> None:
    """glibc's malloc raises its mmap threshold to the largest block freed (up to 32 MB), so a
    batch's freed tensors stay in the heap and the next ones grow it further: a fixed threshold
    (4 MB) gives every large block back when it is freed. Nothing where libc is not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 4 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1024 * 1024)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _join_group(g, ip_config) -> None:
    """The trainers' gloo process group. Under ``torch.distributed.launch`` (the launch command
    names python) from its variables; else (``genurl embed-dist``: DGL's launcher wraps only
    commands that name python, so one trainer per machine runs with no launcher process beside
    it) the machine's partition id is its rank and the group meets on the first ip_config
    address, at the port after its servers' (``MASTER_PORT`` where set)."""
    import torch.distributed as dist

    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        dist.init_process_group("gloo")
        return
    hosts = [line.split() for line in Path(ip_config).read_text().splitlines() if line.strip()]
    machines = len(hosts)
    trainers = int(os.environ.get("DGL_NUM_CLIENT", machines))
    if trainers != machines:
        raise InputError(
            f"{trainers} trainers on {machines} machines: with more than one trainer per machine "
            "name python in the launch command (`python3 -m genurl_graph.cli embed-dist ...`), "
            "so that DGL's launcher starts them under torch.distributed.launch",
            ip_config,
        )
    port = os.environ.get("MASTER_PORT") or (
        int(hosts[0][1] if len(hosts[0]) > 1 else 30050) + int(os.environ.get("DGL_NUM_SERVER", 1))
    )
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://{hosts[0][0]}:{int(port)}",
        rank=int(g.get_partition_book().partid),
        world_size=machines,
    )


def _stage(what: str) -> None:
    """With GENURL_DIST_DEBUG set: each stage of a trainer, with its time, on stderr."""
    if os.environ.get("GENURL_DIST_DEBUG"):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        now = {}
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            key, *val = line.split()
            if key in ("Pss:", "Anonymous:", "Pss_Shmem:"):
                now[key[:-1]] = int(val[0]) // 1024
        print(
            f"[genurl {os.environ.get('RANK', '?')}] {what} {time.time():.2f} peak RSS {peak:.0f} "
            f"MB, now {now} MB",
            file=sys.stderr,
            flush=True,
        )


def _edge_share(dgl, g):
    """This trainer's P_X edges (src, dst, p), in new ids: an even split, local edges first."""
    import torch

    mask = torch.ones(g.num_edges(), dtype=torch.bool)
    eids = dgl.distributed.edge_split(mask, g.get_partition_book(), force_even=True)
    u, v = g.find_edges(eids)
    p = g.edata["p"][eids]
    return u.long(), v.long(), p.float()


def _train(emb, u, v, p, negw, settings, rank, world, epochs, seed, lr, progress) -> dict:
    import torch
    import torch.distributed as dist
    from ..engine.loss import gkl_loss, nu_schedule
    from ..kernels import resolve_backend

    epochs = settings["epochs"] if epochs is None else epochs
    seed = settings["seed"] if seed is None else seed
    lr = lr or settings["lr"]
    nu, negatives, pool = settings["nu"], settings["negatives"], settings["pool"]
    backend = resolve_backend("auto", "cpu")
    gen = torch.Generator().manual_seed(seed * 7919 + rank)
    opt = sparse_adam(emb, lr)
    batch = math.ceil((settings["batch_size"] or settings["num_px_edges"]) / world)
    steps = torch.tensor([max(1, math.ceil(len(u) / batch))])
    dist.all_reduce(steps, op=dist.ReduceOp.MIN)  # the optimiser's step is a collective
    steps = int(steps)
    losses = []
    for epoch in range(epochs):
        nu_e = nu_schedule(nu, None, epoch, epochs)
        total = torch.zeros(2, dtype=torch.float64)
        for idx in torch.tensor_split(torch.randperm(len(u), generator=gen), steps):
            s, d, w = u[idx], v[idx], p[idx]
            drawn = torch.multinomial(negw, pool, replacement=True, generator=gen)
            ids, inv = torch.unique(torch.cat([s, d, drawn]), return_inverse=True)
            k = len(s)
            # the batch's mean loss (a sum over edges) in pieces of edges, each on its own rows
            # pulled from the table: the batch's gradient, summed into one buffer, with one
            # piece's temporaries at a time
            grad = torch.zeros((len(ids), emb.embedding_dim))
            loss = 0.0
            for a in range(0, k, PIECE):
                b = min(k, a + PIECE)
                rows, pinv = torch.unique(
                    torch.cat([inv[a:b], inv[k + a : k + b], inv[2 * k :]]), return_inverse=True
                )
                zp = emb._tensor[ids[rows]].requires_grad_()
                m = b - a
                part = gkl_loss(
                    zp, pinv[:m], pinv[m : 2 * m], w[a:b], pinv[2 * m :], nu_e, negatives, backend
                ) * (m / k)
                part.backward()
                grad.index_add_(0, rows, zp.grad)
                loss += part.item()
                del zp, part
            opt.apply(ids, grad)
            del grad
            total += torch.tensor([loss * k, k], dtype=torch.float64)
        dist.all_reduce(total)
        epoch_loss = float(total[0] / max(total[1], 1))
        if not np.isfinite(epoch_loss):
            raise FloatingPointError(f"the loss became {epoch_loss} at epoch {epoch + 1}: lower lr")
        losses.append(epoch_loss)
        _stage(f"epoch {epoch + 1} loss {epoch_loss:.4f}")
        if progress is not None:
            progress(epoch + 1, epochs, epoch_loss)
    return {
        "losses": losses,
        "epochs": epochs,
        "steps_per_epoch": steps,
        "batch_per_trainer": batch,
        "backend": backend,
    }


def sparse_adam(emb, lr: float):
    """DGL's ``SparseAdam`` on the table ``emb`` (its state beside the table on the servers, its
    gradient exchange between trainers, its lazy Adam that updates only the rows a step touched
    and averages the gradients of two trainers that touched the same row), stepped with
    ``apply(rows, gradient)``, which holds two copies of a batch's gradient where DGL's ``step``
    holds four, and whose row update runs in place, ``ROWS`` rows at a time (DGL's makes ten or
    so temporaries of all the rows a step touches)."""
    import torch
    from dgl.distributed.optim import SparseAdam
    from dgl.distributed.optim.pytorch.utils import alltoall_cpu, alltoallv_cpu

    class LeanSparseAdam(SparseAdam):
        def apply(self, idx, grad):
            """One step of DGL's SparseAdam.step with the gradient ``grad`` of the table's rows
            ``idx`` (unique, sorted): each row's gradient goes to the trainer that owns the row,
            which updates it. The caller sums the batch's gradient into one buffer (DGL's step
            reads it from the table's trace, concatenates it, splits it by owner with masks and
            concatenates what it receives: four copies); ``idx`` sorted is already grouped by
            owner (a partition owns a range of ids), and what arrives lands in one buffer."""
            (emb,) = self._params
            with torch.no_grad():
                if self._world_size > 1:
                    kvstore = emb.weight.kvstore
                    per_server = self._world_size // kvstore.num_servers
                    dest = kvstore.get_partid(emb.data_name, idx).long()
                    if per_server > 1:
                        dest = dest * per_server + torch.remainder(idx, per_server)
                    if len(dest) > 1 and bool((dest[1:] < dest[:-1]).any()):
                        order = torch.argsort(dest, stable=True)
                        idx, grad, dest = idx[order], grad[order], dest[order]
                        del order
                    sizes = torch.bincount(dest, minlength=self._world_size).tolist()
                    del dest
                    counts = list(
                        torch.empty(self._world_size, dtype=torch.int64).chunk(self._world_size)
                    )
                    alltoall_cpu(
                        self._rank,
                        self._world_size,
                        counts,
                        [torch.tensor([c], dtype=torch.int64) for c in sizes],
                    )
                    counts = [int(c) for c in counts]
                    # what the others send lands in buffers of its own; this trainer's own rows
                    # stay views of ``grad`` (alltoallv_cpu hands its own part over)
                    got_idx = [torch.empty(c, dtype=idx.dtype) for c in counts]
                    alltoallv_cpu(self._rank, self._world_size, got_idx, list(idx.split(sizes)))
                    got = [torch.empty((c, grad.shape[1]), dtype=grad.dtype) for c in counts]
                    alltoallv_cpu(self._rank, self._world_size, got, list(grad.split(sizes)))
                    idx, grad = got_idx, got
                    del got_idx, got
                self.update(idx, grad, emb)
            if self._world_size > 1:
                torch.distributed.barrier()

        def update(self, idx, grad, emb):
            # DGL's SparseAdam.update, the same operations in the same order, by row blocks;
            # ``idx`` and ``grad`` may be lists of parts (what each trainer sent)
            parts = list(zip(idx, grad)) if isinstance(idx, list) else [(idx, grad)]
            step_t, mem_t, power_t = self._state[emb.name]
            b1, b2, eps, lr = self._beta1, self._beta2, self._eps, self._lr
            starts = np.cumsum([0] + [len(i) for i, _ in parts]).tolist()
            rows, inverse, cnt = torch.unique(
                torch.cat([i for i, _ in parts]), return_inverse=True, return_counts=True
            )
            order = torch.argsort(inverse, stable=True)  # each row's gradients, in arrival order
            ends = torch.cumsum(cnt, 0)
            dim = parts[0][1].shape[1]
            for a in range(0, len(rows), ROWS):
                b = min(len(rows), a + ROWS)
                r = rows[a:b]
                sel = order[(int(ends[a - 1]) if a else 0) : int(ends[b - 1])]
                g = torch.zeros((b - a, dim), dtype=parts[0][1].dtype)
                for (_, part), lo, hi in zip(parts, starts[:-1], starts[1:]):
                    mine = sel[(sel >= lo) & (sel < hi)]
                    g.index_add_(0, inverse[mine] - a, part[mine - lo])
                g.div_(cnt[a:b].unsqueeze(1))  # rows two trainers touched: their mean
                t = step_t[r] + 1
                step_t[r] = t
                m = mem_t[r].mul_(b1).add_(g, alpha=1.0 - b1)
                v = power_t[r].mul_(b2).add_(g.mul_(g), alpha=1.0 - b2)
                mem_t[r] = m
                power_t[r] = v
                v.div_((1.0 - torch.pow(torch.tensor(b2), t)).unsqueeze(1)).sqrt_().add_(eps)
                m.div_((1.0 - torch.pow(torch.tensor(b1), t)).unsqueeze(1)).mul_(lr).div_(v)
                z = emb._tensor[r]
                z -= m
                emb._tensor[r] = z

    return LeanSparseAdam([emb], lr=lr)


def read_ids(path) -> np.ndarray:
    """The user's node ids as ``genurl partition`` wrote them: integers where every id reads
    back as itself, else strings."""
    lines = Path(path).read_text().splitlines()
    try:
        ints = np.array([int(x) for x in lines], dtype=np.int64)
    except ValueError:
        return np.array(lines, dtype=object)
    return (
        ints
        if all(str(i) == x for i, x in zip(ints.tolist(), lines))
        else np.array(lines, dtype=object)
    )


def _write(emb, output, part_config, n: int, dim: int):
    """Trainer 0: the table, block by block, into the user's row order, then to ``output``."""
    import torch

    from ..io import write_embeddings

    folder = Path(part_config).parent
    node_map = np.load(folder / P.NODE_MAP)
    ids = read_ids(folder / P.NODES)
    if len(ids) != n or len(node_map) != n:
        raise InputError(f"{P.NODES} / {P.NODE_MAP} do not hold {n} nodes", folder)
    Z = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, 65536):
        hi = min(n, lo + 65536)
        Z[node_map[lo:hi]] = emb._tensor[torch.arange(lo, hi)].numpy()
    return write_embeddings(output, Z, ids)

"""``genurl embed-dist``: one process of a DistDGL job, server or trainer, as DGL's launcher
(``tools/launch.py``) starts it on every machine.

The launcher sets ``DGL_ROLE``: a server process serves its machine's partition from
:func:`dgl.distributed.initialize` and never comes back. A trainer (started under
``torch.distributed.launch``) joins the gloo process group, opens the ``DistGraph`` and:

- writes the closed-form start (spectral factors, propagated) of its machine's rows
(``part<i>/genurl_init.npy``) into a
  ``DistEmbedding`` table (n x dim, held by the servers, each machine its own rows);
- takes its share of the P_X edges (``dgl.distributed.edge_split``, local edges first) and, every
  epoch, visits them once in shuffled batches of ``batch_size / trainers`` edges, each batch's
  sources pushed from ``pool`` nodes drawn over all nodes by degree^0.75: the same settings, loss
  (:func:`genurl_graph.engine.loss.gkl_loss`) and batch size over all trainers as a
  single-process ``genurl embed``; every trainer takes the same number of steps (the smallest
  share decides), since ``SparseAdam.step`` is a collective;
- updates only the rows a batch touched, with DGL's ``SparseAdam`` (its state is held by the
  servers beside the table).

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


def _zeros(shape, dtype):
    """The DistEmbedding's first value (servers unpickle this by name); the trainers then write
    the closed-form start."""
    import torch

    return torch.zeros(shape, dtype=dtype)


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
    dgl = P.require_distdgl()
    import torch
    import torch.distributed as dist

    # a server serves its partition in here until every trainer is gone, then exits the process
    dgl.distributed.initialize(str(ip_config))
    _stage("initialized")
    dist.init_process_group("gloo")
    _stage("process group")
    t_connected = time.time()
    rank, world = dist.get_rank(), dist.get_world_size()
    g = dgl.distributed.DistGraph(settings["graph_name"], part_config=str(part_config))
    n, dim = settings["num_nodes"], settings["dim"]
    if g.num_nodes() != n:
        raise InputError(
            f"the partitions hold {g.num_nodes()} nodes, the settings {n}", part_config
        )
    _stage("graph")
    emb = dgl.distributed.DistEmbedding(n, dim, name=TABLE, init_func=_zeros)
    _stage("table")
    _write_start(emb, g, Path(part_config).parent)
    _stage("start written")
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


def _stage(what: str) -> None:
    """With GENURL_DIST_DEBUG set: each stage of a trainer, with its time, on stderr."""
    if os.environ.get("GENURL_DIST_DEBUG"):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"[genurl {os.environ.get('RANK', '?')}] {what} {time.time():.2f} peak RSS {peak:.0f} "
            f"MB",
            file=sys.stderr,
            flush=True,
        )


def _write_start(emb, g, folder: Path) -> None:
    """Each machine's trainers write the closed-form start of the rows its partition owns."""
    import torch

    pb = g.get_partition_book()
    part = pb.partid
    lo, hi = (int(x) for x in _ranges(folder)[part])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    init = np.load(folder / f"part{part}" / P.INIT, mmap_mode="r")
    if init.shape[0] != hi - lo:
        raise InputError(
            f"part{part}/{P.INIT} has {init.shape[0]} rows, the partition {hi - lo}", folder
        )
    share = np.array_split(np.arange(lo, hi), local_world)[local_rank]
    for block in np.array_split(share, max(1, math.ceil(len(share) / 65536))):
        if len(block):
            emb._tensor[torch.from_numpy(block)] = torch.from_numpy(
                np.ascontiguousarray(init[block - lo])
            )


def _ranges(folder: Path):
    config = json.loads((folder / f"{P.GRAPH_NAME}.json").read_text())
    return config["node_map"]["_N"]


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
    from dgl.distributed.optim import SparseAdam

    from ..engine.loss import gkl_loss, nu_schedule
    from ..kernels import resolve_backend

    epochs = settings["epochs"] if epochs is None else epochs
    seed = settings["seed"] if seed is None else seed
    lr = lr or settings["lr"]
    nu, negatives, pool = settings["nu"], settings["negatives"], settings["pool"]
    backend = resolve_backend("auto", "cpu")
    gen = torch.Generator().manual_seed(seed * 7919 + rank)
    opt = SparseAdam([emb], lr=lr)
    batch = math.ceil((settings["batch_size"] or settings["num_px_edges"]) / world)
    steps = torch.tensor([max(1, math.ceil(len(u) / batch))])
    dist.all_reduce(steps, op=dist.ReduceOp.MIN)  # SparseAdam.step is a collective
    steps = int(steps)
    losses = []
    for epoch in range(epochs):
        nu_e = nu_schedule(nu, None, epoch, epochs)
        total = torch.zeros(2, dtype=torch.float64)
        for idx in torch.tensor_split(torch.randperm(len(u), generator=gen), steps):
            s, d, w = u[idx], v[idx], p[idx]
            drawn = torch.multinomial(negw, pool, replacement=True, generator=gen)
            ids, inv = torch.unique(torch.cat([s, d, drawn]), return_inverse=True)
            z = emb(ids)
            k = len(s)
            loss = gkl_loss(z, inv[:k], inv[k : 2 * k], w, inv[2 * k :], nu_e, negatives, backend)
            # without it the table keeps every earlier batch's (rows, gradient) trace and the next
            # step sends and applies them again (averaged with the new ones)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += torch.tensor([loss.item() * k, k], dtype=torch.float64)
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

"""Convert the Planetoid pickles (Cora, CiteSeer) into this project's plain files, once.

The originals are Python-2 pickles; this script checks their SHA-256 against ``SHA256SUMS``,
reads them with an unpickler that admits only the numpy/scipy/collections types they hold, and
writes ``datasets/<name>/``: ``edges.txt`` (``u v`` per line, undirected, each pair once),
``features.npz`` (scipy CSR), ``labels.txt`` (one class id per node) and ``split.json``
(public train/val/test node ids). The package reads only those; it never unpickles.

    python datasets/convert_planetoid.py ../shared/data
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__new__,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix,
    ("scipy.sparse.csc", "csc_matrix"): sp.csc_matrix,
    ("scipy.sparse.lil", "lil_matrix"): sp.lil_matrix,
    ("collections", "defaultdict"): __import__("collections").defaultdict,
    ("__builtin__", "list"): list,
    ("copy_reg", "_reconstructor"): __import__("copyreg")._reconstructor,
    ("__builtin__", "object"): object,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("numpy.core.multiarray", "_reconstruct"):
            from numpy._core.multiarray import _reconstruct

            return _reconstruct
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def _checked_bytes(root: Path, rel: str, sums: dict[str, str]) -> bytes:
    data = (root / rel).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if sums.get(rel) != digest:
        raise SystemExit(f"{root / rel}: SHA-256 {digest} does not match SHA256SUMS")
    return data


def convert(root: Path, name: str, out: Path) -> None:
    sums = {}
    for line in (root / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split()
        sums[rel.removeprefix("./")] = digest
    parts = {}
    for key in ["x", "y", "tx", "ty", "allx", "ally", "graph"]:
        raw = _checked_bytes(root, f"planetoid/ind.{name}.{key}", sums)
        import io

        parts[key] = _RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    test_index = [
        int(v)
        for v in _checked_bytes(root, f"planetoid/ind.{name}.test.index", sums).decode().split()
    ]
    x, y, tx, ty, allx, ally, graph = (
        parts[k] for k in ["x", "y", "tx", "ty", "allx", "ally", "graph"]
    )
    test_sorted = np.sort(test_index)
    n = max(max(graph) + 1, allx.shape[0] + len(test_index))
    if name == "citeseer":
        # 15 test nodes are isolated and featureless: pad them with zero rows, as everyone does.
        full = range(test_sorted.min(), test_sorted.max() + 1)
        tx_ext = sp.lil_matrix((len(full), tx.shape[1]))
        tx_ext[test_sorted - test_sorted.min(), :] = tx
        tx = tx_ext
        ty_ext = np.zeros((len(full), ty.shape[1]))
        ty_ext[test_sorted - test_sorted.min(), :] = ty
        ty = ty_ext
    features = sp.vstack([allx, tx]).tolil()
    features[test_index, :] = features[test_sorted, :]
    labels_1h = np.vstack([ally, ty])
    labels_1h[test_index, :] = labels_1h[test_sorted, :]
    n = features.shape[0]
    labels = labels_1h.argmax(1)
    labels[labels_1h.sum(1) == 0] = -1  # CiteSeer's padded nodes have no label
    edges = set()
    for u, nbrs in graph.items():
        for v in nbrs:
            if u != v:
                edges.add((min(u, v), max(u, v)))
    edges = np.array(sorted(edges), dtype=np.int64)
    split = {
        "train": list(range(y.shape[0])),
        "val": list(range(y.shape[0], y.shape[0] + 500)),
        "test": sorted(int(i) for i in test_index),
    }
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(
        out / "edges.txt",
        edges,
        fmt="%d",
        header=f"{name}: undirected, {len(edges)} edges, {n} nodes (ids 0..{n - 1})",
    )
    sp.save_npz(out / "features.npz", features.tocsr().astype(np.float32))
    np.savetxt(out / "labels.txt", labels, fmt="%d", header="class id per node (-1: none)")
    (out / "split.json").write_text(json.dumps(split) + "\n")
    print(
        f"{name}: {n} nodes, {len(edges)} edges, {features.shape[1]} features, "
        f"{labels.max() + 1} classes -> {out}"
    )


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    here = Path(__file__).resolve().parent
    for name in ["cora", "citeseer"]:
        convert(root, name, here / name)

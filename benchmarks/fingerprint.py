"""Fixed-seed fits of every task and option, to check that a change keeps behaviour bit for bit.

    .venv/bin/python benchmarks/fingerprint.py --save before.npz      # on the old code
    .venv/bin/python benchmarks/fingerprint.py --compare before.npz   # on the new code

Prints, for each fit, whether the embeddings are identical (and the largest difference).
Runs on one torch thread, a few minutes on 2 cores.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree, not an installed copy
import numpy as np
import torch

torch.set_num_threads(1)
from genurl_graph import GenURL, datasets  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--save", type=Path, help="write the embeddings to this .npz")
ap.add_argument("--compare", type=Path, help="compare with the embeddings in this .npz")
args = ap.parse_args()


def fitf(model, X, **kw):
    return model.fit(X, **kw)


res = {}
cora = datasets.load("cora")
g = cora.graph
rng = np.random.default_rng(0)
edges = np.stack([rng.integers(0, 300, 1500), rng.integers(0, 300, 1500)], 1)
res["ge_struct"] = fitf(GenURL(task="ge", dim=16), edges).embeddings_
res["ge_struct_ep2"] = fitf(GenURL(task="ge", dim=16, epochs=2), edges).embeddings_
res["ge_walks"] = fitf(
    GenURL(task="ge", dim=16, epochs=2, walks_per_node=2, walk_length=10), edges
).embeddings_
res["ge_feat"] = fitf(GenURL(task="ge", dim=32, epochs=3), g).embeddings_
res["ge_feat_refine"] = fitf(GenURL(task="ge", dim=32, epochs=4, refine=2), g).embeddings_
res["ge_sgc"] = fitf(GenURL(task="ge", dim=16, epochs=2, encoder="sgc"), g).embeddings_
res["ge_gcn"] = fitf(GenURL(task="ge", dim=16, epochs=2, encoder="gcn", hidden=32), g).embeddings_
res["ge_table_feat"] = fitf(GenURL(task="ge", dim=16, epochs=2, encoder="table"), g).embeddings_
res["ge_views"] = fitf(GenURL(task="ge", dim=16, epochs=2), g, views=1).embeddings_
X = np.asarray(
    cora.graph.features[:600].todense()
    if hasattr(cora.graph.features, "todense")
    else cora.graph.features[:600],
    dtype=np.float32,
)
res["dr_free"] = fitf(GenURL(task="dr", epochs=20), X).embeddings_
res["dr_param"] = fitf(GenURL(task="dr", epochs=3, parametric=True), X).embeddings_
res["dr_refine"] = fitf(GenURL(task="dr", epochs=6, refine=3), X).embeddings_
T = res["ge_feat"][:600]
res["kd"] = fitf(GenURL(task="kd", epochs=3), X, teacher=T).embeddings_
imgs = np.random.default_rng(1).random((64, 12, 12)).astype(np.float32)
res["ssl"] = fitf(GenURL(task="ssl", epochs=1, batch_size=32), imgs, width=4).embeddings_
res["ssl_refine"] = fitf(
    GenURL(task="ssl", epochs=2, batch_size=32, refine=1), imgs, width=4
).embeddings_
if args.save:
    np.savez(args.save, **res)
    print(f"{len(res)} fits -> {args.save}")
if args.compare:
    old = np.load(args.compare)
    same = 0
    for key, Z in res.items():
        equal = key in old.files and old[key].shape == Z.shape and np.array_equal(old[key], Z)
        same += equal
        diff = (
            float(np.abs(old[key] - Z).max())
            if key in old.files and old[key].shape == Z.shape
            else float("nan")
        )
        print(f"{key:16s} {'identical' if equal else 'DIFFERENT'}  max |diff| {diff:.3g}")
    print(f"{same} of {len(res)} fits identical")
    sys.exit(0 if same == len(res) else 1)

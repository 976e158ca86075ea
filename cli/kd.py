"""``genurl distill`` and ``genurl apply``: knowledge distillation as a graph, and using a saved model.

``distill`` builds P_X from the kNN graph of a teacher's embeddings, trains a student encoder
over its own inputs, and saves it; ``apply`` embeds new rows with a saved model (no teacher,
and for an MLP student no graph)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .common import DEVICE, QUIET, SEED, _check_run, _check_sizes, _progress_bar, _user_errors, app, err


def _read_inputs(path: Path, ids: np.ndarray | None):
    """The student's inputs X and the id of each row: a .csv names its rows (reordered to
    ``ids`` when given); a .npy/.npz follows ``ids`` (or its own .nodes.txt, or 0..n-1)."""
    from genurl_graph import io as gio
    from genurl_graph.errors import InputError

    path = Path(path)
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        if ids is not None:
            return gio.read_features(path, ids), ids
        X, row_ids, lines = gio.read_feature_table(gio.existing_file(path))
        gio.check_finite_matrix(X, path, "the inputs", lines)
        return X.astype(np.float32), row_ids
    X = gio.read_features(path)
    own = gio.nodes_path_for(path)
    own_ids = gio.read_nodes(own) if own.exists() else None
    if own_ids is not None and len(own_ids) != X.shape[0]:
        raise InputError(f"{len(own_ids)} node ids for {X.shape[0]} input rows", own)
    if ids is not None and own_ids is not None and (len(ids) != len(own_ids)
                                                    or (ids.astype(str) != own_ids.astype(str)).any()):
        raise InputError("the inputs' row ids (from their .nodes.txt) differ from the teacher's: the rows "
                         "must name the same nodes in the same order", own)
    if ids is None:
        ids = own_ids if own_ids is not None else np.arange(X.shape[0])
    return X, ids


def _read_edges(path: Optional[Path], ids: np.ndarray):
    """The graph over the input rows (for a gcn student), its node ids mapped onto ``ids``."""
    if path is None:
        return None
    from genurl_graph import io as gio
    from genurl_graph.graphs.graph import _from_edges

    edges = gio.read_edgelist(path, ids)
    return _from_edges(edges.src, edges.dst, edges.weight, len(ids), False, ids, None, str(path))


MODEL_OUT = typer.Option(..., "-o", "--output", help="Where to save the fitted student: a .pt file that "
                         "`genurl apply` and GenURL.load read.")
GRAPH = typer.Option(None, "--graph", help="Edge list over the input rows (as for `genurl embed`); needed by "
                     "the gcn student, unused by mlp.")


@app.command()
@_user_errors
def distill(
    teacher: Path = typer.Option(..., "--teacher", help="Teacher embeddings, one row per node: .npy (ids in "
                                 ".nodes.txt beside it, if any), .csv or .parquet (id first column)."),
    inputs: Path = typer.Option(..., "--inputs", help="The student's inputs: .npy/.npz (rows in the teacher's "
                                "order) or .csv (row id first column, matched to the teacher's ids)."),
    output: Path = MODEL_OUT,
    graph: Optional[Path] = GRAPH,
    student: str = typer.Option("mlp", "--student", help="Student encoder: mlp (features only; no graph "
                                "at inference) or gcn (needs --graph)."),
    dim: Optional[int] = typer.Option(None, "--dim", help="Student embedding dimension (default 128)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs, at most (default 150; "
                                         "stops early on a loss plateau)."),
    k: Optional[int] = typer.Option(None, "--k", help="Teacher neighbours per row that carry P_X (default 15)."),
    hidden: int = typer.Option(512, "--hidden", help="Hidden width of the student."),
    norm: str = typer.Option("standard", "--norm", help="How the mlp student scales its inputs: standard "
                             "(centred, one scale), l1 (rows to unit L1 norm) or none; saved with the model."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="Input dropout of the mlp student while "
                                            "training (default 0.5: it helps on rows never seen)."),
    metric: str = typer.Option("cosine", "--metric", help="Distance between teacher rows: cosine or euclidean."),
    embed_out: Optional[Path] = typer.Option(None, "--embed-out", help="Also write the student's embedding of "
                                             "the inputs: .npy (+ .nodes.txt), .csv or .parquet."),
    seed: int = SEED, device: str = DEVICE, quiet: bool = QUIET,
):
    """Teach a student encoder the teacher's neighbourhoods (no labels) and save it."""
    from genurl_graph.errors import InputError
    from genurl_graph.io import check_output_path, read_embeddings, write_embeddings

    STUDENTS = ("mlp", "gcn")  # genurl_graph.tasks.kd.STUDENTS, without importing torch to check a flag

    check_output_path(output, (".pt",))
    if embed_out is not None:
        check_output_path(embed_out)
    _check_sizes(dim, epochs)
    _check_run(seed, device)
    if hidden < 1:
        raise InputError(f"--hidden must be at least 1, got {hidden}")
    if k is not None and k < 1:
        raise InputError(f"--k must be at least 1, got {k}")
    if student not in STUDENTS:
        raise InputError(f"unknown student {student!r}: choose from {', '.join(STUDENTS)}")
    if dropout is not None and not 0 <= dropout < 1:
        raise InputError(f"--dropout must be in [0, 1), got {dropout}")
    if metric not in ("cosine", "euclidean"):
        raise InputError(f"unknown metric {metric!r}: cosine or euclidean")
    start = time.perf_counter()
    T, ids = read_embeddings(teacher)
    X, ids = _read_inputs(inputs, ids)
    g = _read_edges(graph, ids)
    from genurl_graph import GenURL

    with _progress_bar("distilling", quiet) as bar:
        model = GenURL(task="kd", student=student, dim=dim, epochs=epochs, k=k, hidden=hidden, metric=metric,
                       random_state=seed, device=device, progress=bar)
        model.fit(X, teacher=T, graph=g, norm=norm, dropout=dropout)
    model.save(output)
    written = [output]
    if embed_out is not None:
        written += write_embeddings(embed_out, model.embeddings_, ids)
    err.print(f"{X.shape[0]} rows, teacher {T.shape[1]}-d -> {student} student {model.embeddings_.shape[1]}-d, "
              f"{len(model.history_.losses)} epochs, {time.perf_counter() - start:.1f} s -> "
              + ", ".join(map(str, written)), highlight=False)


@app.command()
@_user_errors
def apply(
    model_file: Path = typer.Argument(..., help="A model saved by `genurl distill`, `genurl reduce --save`, `genurl ssl --save` (or GenURL.save)."),
    inputs: Path = typer.Argument(..., help="New rows: .npy/.npz (ids from .nodes.txt beside it, else "
                                  "0..n-1) or .csv (row id first column; for a reduce model numbers only, as "
                                  "reduce reads them); images (.npy/.npz) for an ssl model."),
    output: Path = typer.Option(..., "-o", "--output", help="Embeddings: .npy (+ .nodes.txt), .csv or .parquet."),
    graph: Optional[Path] = GRAPH,
    device: str = DEVICE,
):
    """Embed new rows with a saved model (an mlp student needs no graph and no teacher)."""
    from genurl_graph.errors import InputError
    from genurl_graph.io import check_output_path, write_embeddings

    check_output_path(output)
    _check_run(None, device)
    from genurl_graph import GenURL

    model = GenURL.load(model_file, device=device)
    start = time.perf_counter()
    if model.task == "ssl":  # a CNN: an array of images in, representations out
        from genurl_graph.io import read_images
        from genurl_graph.tasks.ssl import as_images

        images = read_images(inputs)
        if images.ndim not in (3, 4):  # apply has no --image-shape: say how to give the shape
            raise InputError(f"an ssl model takes images as an (n, H, W) or (n, C, H, W) array, got shape "
                             f"{images.shape}: save flattened rows reshaped (numpy: X.reshape(n, H, W))", inputs)
        try:
            X = as_images(images)
        except InputError as exc:
            raise InputError(exc.what, inputs) from None
        Z = model.transform(X)
        written = write_embeddings(output, Z, np.arange(len(Z)))
        err.print(f"{X.shape[0]} images -> {Z.shape[1]}-d in {time.perf_counter() - start:.2f} s -> "
                  + ", ".join(map(str, written)), highlight=False)
        return
    if model.task == "dr" and Path(inputs).suffix.lower() in (".csv", ".tsv", ".txt"):
        from genurl_graph.io import read_matrix

        X = read_matrix(inputs)  # numbers only, as `genurl reduce` reads them
        ids = np.arange(len(X))
    else:
        X, ids = _read_inputs(inputs, None)
    g = _read_edges(graph, ids)
    if model.task == "kd":
        Z = model.transform(X, graph=g)
    elif model.task == "dr":  # a parametric DR model: data rows in, coordinates out
        Z = model.transform(X)
    elif g is None:
        raise InputError(f"a {model.task} model with the {model.encoder_name_} encoder needs --graph")
    else:
        Z = model.transform(g, features=X)
    written = write_embeddings(output, Z, ids)
    err.print(f"{X.shape[0]} rows -> {Z.shape[1]}-d in {time.perf_counter() - start:.2f} s -> "
              + ", ".join(map(str, written)), highlight=False)

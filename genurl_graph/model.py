"""``GenURL``: the scikit-learn estimator over the engine, one class for every task.

Each task (:mod:`genurl_graph.tasks`) builds a :class:`~genurl_graph.tasks.base.Plan` (P_X, the
encoder and its inputs, its default training settings); :meth:`GenURL.fit` runs every plan the
same way.
"""

from __future__ import annotations

import importlib
import inspect
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import torch

from .checks import check_device, check_seed
from .engine import EdgeStream, Trainer, TrainConfig, TrainResult
from .errors import InputError
from .tasks.base import embed, setting, to_device

TASKS = ("ge", "dr", "kd", "ssl")
# Estimator parameters that, when set, replace the task's training defaults (TrainConfig fields).
TRAIN_PARAMS = ("epochs", "lr", "nu", "nu_end", "negatives", "batch_size", "patience")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _sklearn_transformer():
    """An instance of a plain scikit-learn transformer: what GenURL's tags are (imported only
    when scikit-learn itself asks, so it is already loaded)."""
    from sklearn.base import BaseEstimator, TransformerMixin

    class Transformer(TransformerMixin, BaseEstimator):
        pass

    return Transformer()


class Estimator:
    """scikit-learn's estimator protocol (get_params / set_params, tags, repr) without importing
    scikit-learn, whose import (0.8 s) would be most of a small `genurl reduce`: ``clone``,
    ``Pipeline``, ``GridSearchCV`` and ``check_is_fitted`` use these, as on a ``BaseEstimator``.
    The parameters are the keyword-only arguments of ``__init__``."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.kind == p.KEYWORD_ONLY)

    def get_params(self, deep: bool = True) -> dict:
        """The estimator's parameters (``deep`` is accepted for scikit-learn: none nests)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. Valid "
                    f"parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        return _sklearn_transformer().__sklearn_tags__()

    def _get_tags(self):  # scikit-learn before 1.6
        return _sklearn_transformer()._get_tags()

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not (value is defaults[name] or (_is_plain(value) and value == defaults[name]))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


def _is_plain(value) -> bool:
    return isinstance(value, (str, int, float, bool, type(None)))


class GenURL(Estimator):
    r"""Learn embeddings Z whose similarity Q_Z keeps the input similarity P_X (GenURL).

    Every task is a graph: P_X is a sparse (n x n) matrix of input similarities (a graph's
    edges, a kNN graph of points, a teacher's neighbourhoods, augmentation views), and training
    minimises the general KL divergence

    .. math::

        L = -\sum_{(i,j) \in P} \left[P_{ij} \log Q_{ij} + (1 - P_{ij}) \log(1 - Q_{ij})\right]
            - m \sum_{(i,j) \in P} \mathbb{E}_{k} \log(1 - Q_{ik}),
        \qquad Q_{ij} = \left(1 + \lVert z_i - z_j \rVert^2 / \nu\right)^{-(\nu + 1)/2}

    over P_X's edges and a pool of pushed nodes (``docs/maths.md``). Settings left at ``None``
    or ``"auto"`` are chosen per task and from the data; after :meth:`fit` the chosen values
    are attributes ending in ``_`` (``dim_``, ``config_``, ...).

    Parameters
    ----------
    task : {"ge", "dr", "kd", "ssl"} or object
        ``"ge"``: embed a graph (DGLGraph, networkx graph, scipy sparse adjacency, (E, 2) edge
        array or :class:`~genurl_graph.Graph`), with optional node ``features`` given to
        :meth:`fit`. Without features the table starts in closed form (ProNE's factorisation
        and spectral propagation, edge weights included): that is the embedding up to 50k nodes
        (larger graphs train 2 epochs of a few large batches) unless ``epochs=N`` trains it.
        ``"dr"``: reduce an (n, f) array through its kNN graph. ``"kd"``: teach a ``student``
        over inputs X the kNN graph of a teacher's embedding, ``fit(X, teacher=T)``. ``"ssl"``:
        a CNN trained on the view graphs of augmented images. Or an object with
        ``build(model, X, **inputs)`` and ``transform(model, X, **inputs)``
        (:mod:`genurl_graph.tasks.base`).
    dim : int, optional
        Embedding dimension (ge: 128 without features, 512 with; dr: 2; kd: 128; ssl: 128).
    encoder : str or torch.nn.Module, default "auto"
        ge: ``table`` (free rows, transductive), ``ppr``, ``sgc``, ``mlp`` or ``gcn``
        (inductive, need features); auto: ``table`` without features, ``ppr`` with. Or a
        module of your own, ``forward(inputs) -> Z``, with an optional ``prepare(data)`` (else
        it gets the features / data as a float tensor); it is copied, not changed, by ``fit``.
    epochs : int, optional
        Training epochs (the most: training stops on a loss plateau of ``patience`` epochs).
        ``0`` keeps a structure-only graph's closed-form start.
    lr : float, optional
        Step size of the optimiser (Adam; SGD with clipped steps for a free DR layout).
    nu : float, optional
        Degrees of freedom nu_Z of Q_Z's Student-t kernel (1: Cauchy, as t-SNE and UMAP).
    nu_end : float, optional
        Raise nu_Z to this value over the epochs.
    negatives : float, optional
        Push weight m per P_X edge.
    k : int, optional
        Neighbours per row of the kNN graphs that build P_X (ge: of the propagated features; dr:
        of the points; kd: of the teacher's rows) and of the ``refine`` latent graph.
    metric : {"auto", "euclidean", "cosine"}, default "auto"
        Distance of the kNN graphs (auto: cosine for sparse data and teachers, else euclidean).
    parametric : bool, default False
        dr: an MLP that can transform new points instead of free coordinates.
    student : {"mlp", "gcn"}, default "mlp"
        kd: the student encoder (gcn needs ``graph=`` at fit and transform).
    hops, alpha : int, float, default 16, 0.1
        ge: personalised-PageRank propagation of the features (``ppr`` encoder and its P_X).
    hidden : int, optional
        Hidden width of MLP / GCN encoders (default 512; dr parametric 256).
    walks_per_node, walk_length, window : int, default 0, 40, 5
        ge without features: add random-walk contexts to P_X (0: none, the default).
    batch_size : int, optional
        P_X edges per step (ssl: images per step); None: the task's choice.
    patience : int, default 30
        Epochs without improvement before training stops (0: never).
    refine : int, default 0
        Every ``refine`` epochs, P_X becomes the static P_X joined with the kNN graph of the
        current embedding (dynamic similarity; 0: off).
    random_state : int, default 0
        Seed of every random draw; the same seed gives the same embedding, bit for bit.
    device : str, default "cpu"
        ``cpu``, ``cuda`` or ``cuda:N``.
    backend : {"auto", "torch", "spmm", "dgl", "triton"}, default "auto"
        The edge kernel (:mod:`genurl_graph.kernels`).
    verbose : bool, default False
        Print the loss of every epoch.
    progress : callable, optional
        ``progress(epoch, epochs, loss)`` after every epoch (the CLI's progress bar).

    Attributes
    ----------
    embeddings_ : ndarray of shape (n, dim_)
        The embedding of the fitted data.
    encoder_ : torch.nn.Module
        The trained encoder; ``encoder_name_`` its name.
    affinity_ : Affinity or None
        P_X as used at the end of training.
    config_ : TrainConfig
        The training settings used (the task's defaults with the user's values).
    dim_, epochs_, lr_, nu_, negatives_, batch_size_ : the resolved settings.
    history_ : TrainResult
        Loss per epoch, early stop, seconds, the loss kernel.

    Examples
    --------
    >>> from genurl_graph import GenURL, datasets
    >>> Z = GenURL(task="ge", dim=128).fit_transform(datasets.load("cora").graph)
    """

    def __init__(
        self,
        *,
        task="ge",
        dim=None,
        encoder="auto",
        epochs=None,
        lr=None,
        nu=None,
        nu_end=None,
        negatives=None,
        k=None,
        metric="auto",
        parametric=False,
        student="mlp",
        hops=16,
        alpha=0.1,
        hidden=None,
        walks_per_node=0,
        walk_length=40,
        window=5,
        batch_size=None,
        patience=30,
        refine=0,
        random_state=0,
        device="cpu",
        backend="auto",
        verbose=False,
        progress=None,
    ):
        self.task, self.dim, self.encoder, self.epochs, self.lr = task, dim, encoder, epochs, lr
        self.nu, self.nu_end, self.negatives, self.k, self.metric = nu, nu_end, negatives, k, metric
        self.parametric, self.student, self.hops, self.alpha = parametric, student, hops, alpha
        self.hidden, self.walks_per_node, self.walk_length, self.window = (
            hidden,
            walks_per_node,
            walk_length,
            window,
        )
        self.batch_size, self.patience, self.refine, self.random_state = (
            batch_size,
            patience,
            refine,
            random_state,
        )
        self.device, self.backend, self.verbose, self.progress = device, backend, verbose, progress

    # -- validation: every parameter, in one place ----------------------------------------
    def _check(self) -> None:
        if not (
            self.task in TASKS or (hasattr(self.task, "build") and hasattr(self.task, "transform"))
        ):
            raise InputError(
                f"unknown task {self.task!r}: available {', '.join(TASKS)}, or an object with "
                "build() and transform()"
            )
        positive = {"dim": self.dim, "hidden": self.hidden, "batch_size": self.batch_size}
        for name, value in positive.items():
            if value is not None and (not _is_int(value) or value < 1):
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        at_least_zero = {
            "epochs": (self.epochs, "0: a structure-only graph's closed-form start, untrained"),
            "refine": (self.refine, "epochs between refreshes; 0: off"),
            "patience": (self.patience, "0: never stop early"),
            "walks_per_node": (self.walks_per_node, "0: no random walks"),
        }
        for name, (value, meaning) in at_least_zero.items():
            if value is not None and (not _is_int(value) or value < 0):
                raise InputError(f"{name} must be an integer >= 0 ({meaning}), got {value!r}")
        for name in ("lr", "nu", "nu_end"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, (int, float, np.number)) and value > 0 and np.isfinite(value)
            ):
                raise InputError(f"{name} must be a positive number, got {value!r}")
        if self.negatives is not None and not (
            isinstance(self.negatives, (int, float, np.number)) and 0 <= self.negatives < np.inf
        ):
            raise InputError(f"negatives must be a number >= 0, got {self.negatives!r}")
        k_min = 1 if self.task in ("dr", "kd") else 0
        if self.k is not None and (not _is_int(self.k) or self.k < k_min):
            raise InputError(f"k must be an integer >= {k_min}, got {self.k!r}")
        if self.metric not in ("auto", "euclidean", "cosine"):
            raise InputError(f"unknown metric {self.metric!r}: auto, euclidean or cosine")
        if not (isinstance(self.encoder, str) or isinstance(self.encoder, torch.nn.Module)):
            raise InputError(
                f"encoder must be a name or a torch.nn.Module, got {type(self.encoder).__name__}"
            )
        check_seed(self.random_state)
        check_device(self.device)

    def _task(self):
        if not isinstance(self.task, str):
            return self.task
        return importlib.import_module(f".tasks.{self.task}", __package__)

    def _progress(self):
        if self.progress is not None:
            return self.progress
        if self.verbose:
            return lambda e, total, loss: print(f"epoch {e}/{total} loss {loss:.4f}", flush=True)
        return None

    def _config(self, auto: TrainConfig) -> TrainConfig:
        """The task's default training settings with every one the user set."""
        return replace(
            auto,
            **{
                name: getattr(self, name)
                for name in TRAIN_PARAMS
                if getattr(self, name) is not None
            },
        )

    # -- the scikit-learn interface ---------------------------------------------------------
    def fit(self, X, y=None, **inputs) -> "GenURL":
        """Build P_X from ``X``, train the encoder, store ``embeddings_``.

        Parameters
        ----------
        X : graph, array or images
            ge: a graph; dr: an (n, f) array; kd: the student's inputs (n, f); ssl: images.
        y : ignored
            Present for scikit-learn pipelines; GenURL learns without labels.
        **inputs
            Task inputs: ``features`` (ge: node features), ``teacher`` and ``graph`` (kd),
            ``image_shape`` (ssl), ``affinity`` (any task: your own P_X, an (n x n) matrix in
            [0, 1] or an :class:`~genurl_graph.similarity.Affinity`, used instead of the
            task's), and task options documented on each task's ``build``.
        """
        self._check()
        task = self._task()
        # seed init and dropout without touching the caller's RNG
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            plan = task.build(self, X, **inputs)
            self._run(plan)
        return self

    def fit_transform(self, X, y=None, **inputs) -> np.ndarray:
        """:meth:`fit`, then ``embeddings_``."""
        return self.fit(X, y, **inputs).embeddings_

    def transform(self, X, **inputs) -> np.ndarray:
        """Embed new nodes, points or images with the fitted encoder; needs an inductive one."""
        if not hasattr(self, "encoder_"):
            raise RuntimeError("call fit first")
        # a user's module without the flag takes inputs
        if not getattr(self.encoder_, "inductive", True):
            raise InputError(
                f"the {self.encoder_name_!r} encoder is transductive: it cannot embed new "
                "data; fit an inductive encoder (ge: ppr, sgc, mlp, gcn; dr: parametric=True)"
            )
        return self._task().transform(self, X, **inputs)

    def save(self, path) -> None:
        """Write the fitted inductive encoder, its input scaling and ``get_params()`` to one
        file that :meth:`load` (and ``genurl apply``) read back (:mod:`genurl_graph.persist`)."""
        from .persist import write_model

        if not hasattr(self, "encoder_"):
            raise RuntimeError("call fit before save")
        if not isinstance(self.task, str) or not isinstance(self.encoder, str):
            raise InputError("only models of a built-in task and encoder name can be saved")
        params = {k: v for k, v in self.get_params().items() if k not in ("progress", "device")}
        write_model(path, params, getattr(self, "encoder_name_", None), self.encoder_)

    @classmethod
    def load(cls, path, device: str = "cpu") -> "GenURL":
        """A fitted model from a file written by :meth:`save`; any other file is refused."""
        from .persist import read_model

        params, name, encoder = read_model(path, device)
        known = set(cls().get_params())
        model = cls(**{k: v for k, v in params.items() if k in known}, device=device)
        model.encoder_, model.encoder_name_ = encoder, name
        return model

    # -- running a plan: the same for every task ------------------------------------------
    def _run(self, plan) -> None:
        config = self._config(plan.config)
        encoder = plan.encoder.to(self.device)
        inputs = to_device(plan.inputs, self.device)
        affinity = plan.affinity
        if config.epochs == 0:
            if getattr(encoder, "has_start", False):  # a table started in closed form: keep it
                self.history_ = TrainResult()
            else:
                raise InputError(
                    "epochs=0 keeps the encoder's start, and only a structure-only graph's "
                    "table has one (its closed-form spectral start): use epochs >= 1"
                )
        else:
            stream = plan.stream or EdgeStream(
                inputs, affinity.edges(), plan.num_nodes, plan.negative_weights, self.device
            )
            hooks = [] if plan.late is None else [_switch_hook(plan.late, config.epochs, stream)]
            if self.refine:
                from .similarity import LatentKNN, refresh_hook

                latent = plan.refiner or LatentKNN(
                    affinity,
                    k=setting(self, "k", plan.refine_k) or 10,
                    weight=plan.refine_weight,
                    num_nodes=plan.num_nodes,
                )
                current = plan.latent or (lambda enc: enc(inputs).detach().cpu().numpy())
                apply = plan.on_refresh or (lambda aff: stream.set_edges(aff.edges()))
                hooks.append(
                    refresh_hook(latent, self.refine, lambda enc: _no_grad(current, enc), apply)
                )
            trainer = Trainer(
                config,
                seed=self.random_state,
                device=self.device,
                backend=self.backend,
                progress=self._progress(),
            )
            with _threads(plan.threads):
                self.history_ = trainer.fit(encoder, stream, hooks)
            if self.refine and plan.affinity is not None:
                affinity = latent.affinity
        self.encoder_, self.affinity_, self.config_ = encoder, affinity, config
        for name, value in plan.fitted.items():
            setattr(self, name, value)
        self.embeddings_ = (plan.embed or embed)(encoder, inputs)
        self.dim_ = self.embeddings_.shape[1]
        for name in ("epochs", "lr", "nu", "negatives", "batch_size"):
            setattr(self, name + "_", getattr(config, name))


def _switch_hook(late, epochs: int, stream):
    """The trainer hook of ``Plan.late = (fraction, affinity)``: at the start of epoch
    ``int(fraction * epochs)``, the stream's edges become the affinity's (P_X changed)."""
    fraction, affinity = late
    at = int(fraction * epochs)

    def hook(epoch: int, encoder) -> bool:
        if epoch != at:
            return False
        stream.set_edges(affinity.edges())
        return True

    hook.next_at = lambda epoch: at if epoch <= at else epochs  # the trainer's runs end there
    return hook


def _no_grad(fn, encoder):
    with torch.no_grad():
        return fn(encoder)


@contextmanager
def _threads(count: int | None):
    """torch's intra-op threads set to ``count`` (at most what they are) for the block."""
    before = torch.get_num_threads()
    if count is not None and count < before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)

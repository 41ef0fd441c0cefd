"""scikit-learn estimators: the biology-guided network where computational biologists already work
(``cross_validate`` with ``GroupKFold``, ``GridSearchCV``, ``Pipeline``).

``SparseNetRegressor`` is the network ``sparsenet train`` fits (the same code: ``training.fitting``),
with its parameters as plain values and nothing built in ``__init__``. ``SparseNetRegressorCV``
chooses the L2 penalty by inner cross-validation of the training samples (any scikit-learn splitter,
``GroupKFold`` with ``groups``), along a path from strong to weak with warm starts.

``X``: a DataFrame (or AnnData) whose columns are gene IDs, aligned to the masks' genes by ID as the
command line does (model genes not in X are 0), or an array in the masks' gene order. Rows whose
``y`` is all missing (NaN) are unlabelled: they take part in the input standardisation (and, for
strategy C, pre-training) only. ``unlabelled``: more profiles (the same columns as X) for the same
purpose, e.g. a compendium's profiles without a phenotype.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .evaluation.config import PRESETS
from .evaluation.folds import grouped_kfold, kfold
from .masks.store import Masks, read_masks, shipped_mask_path
from .training.finetune import member_predictions, predict
from .training.fitting import MEMBER_SEED, NetworkSpec, fit_networks
from .training.network import Architecture
from .training.penalty import L2_PATH

DEFAULT = PRESETS["default"]


def _names(X):
    """Column names of a DataFrame, var names of an AnnData, else None."""
    if hasattr(X, "var_names") and hasattr(X, "X"):
        return [str(v) for v in X.var_names]
    columns = getattr(X, "columns", None)
    if columns is not None and all(isinstance(c, str) for c in columns):
        return list(columns)
    return None


def _values(X):
    if hasattr(X, "var_names") and hasattr(X, "X"):  # AnnData: dense or sparse X
        X = X.X
        return X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    return X


def random_masks(n_features: int, seed: int, names=None, nodes: int | None = None, density: float = 0.2) -> Masks:
    """A random wiring over any features: ``nodes`` (default about sqrt(features)) nodes, each feature linked
    to a node with probability ``density`` and every node to at least one feature (seeded)."""
    import scipy.sparse as sp

    rng = np.random.default_rng([seed, 11])
    nodes = nodes or max(1, int(round(np.sqrt(n_features))))
    m = rng.random((nodes, n_features)) < density
    m[np.arange(nodes), rng.integers(0, n_features, nodes)] = True
    ids = list(names) if names is not None else [f"x{i}" for i in range(n_features)]
    return Masks(ids, list(ids), [f"node{i}" for i in range(nodes)], [f"node{i}" for i in range(nodes)],
                 sp.identity(n_features, format="csr"), sp.csr_matrix(m.astype(np.int8)),
                 attrs={"kind": "random", "seed": int(seed), "density": density})


class SparseNetRegressor(RegressorMixin, BaseEstimator):
    """The biology-guided sparse network as a scikit-learn regressor (what ``sparsenet train`` fits).

    Parameters
    ----------
    masks : path of a masks file, a ``Masks``, a 0/1 (nodes x features) matrix, ``"random"`` (a random
        wiring over X's features, seeded by ``random_state``) or None (the shipped iJO1366 masks)
    strategy : ``"B"`` (masks, no pre-training) or ``"C"`` (masks and pre-training)
    alpha : the L2 penalty (l2 * |p|^2 / 2 per observation), or ``"auto"`` (inner grouped CV of the
        training samples along ``penalty.L2_PATH``; ``groups`` passed to ``fit``)
    init_scale : factor on the initial weights of the layers fine-tuning starts afresh
    max_iter, tol : fine-tuning steps at most, and the relative loss change over 100 steps that stops it
    learning_rate : Adam's step (None: 0.01)
    optimizer : ``"adam"`` or ``"lbfgs"``
    ensemble : networks per fit, averaged
    inputs : ``"standardise"``, ``"centre"`` or ``"raw"`` per gene, fitted on the training rows
    head : ``"readout"`` (a linear read-out of every node) or ``"node"`` (the node named in ``targets``)
    targets : with ``head="node"``, the phenotype ID of each output
    loss : ``"squared"`` or ``"relative"``
    decoder : the pre-training decoder (``"linear"`` or ``"softplus"``), strategy C
    unlabelled : more profiles for the input standardisation and pre-training (the same columns as X)
    pretrain_samples, pretrain_batch, pretrain_lr : pre-training (strategy C)
    inner_folds : inner folds for ``alpha="auto"``
    device : ``"cpu"``, ``"gpu"`` or ``"auto"``
    random_state : the seed of everything (member k: ``random_state + k * 1,000,003``)
    warm_start : fit again from the fitted networks instead of a fresh start
    """

    def __init__(self, masks=None, strategy=DEFAULT["strategy"], alpha=DEFAULT["l2"], init_scale=DEFAULT["init_scale"],
                 max_iter=DEFAULT["max_steps"], tol=1e-4, learning_rate=None, optimizer=DEFAULT["optimizer"],
                 ensemble=DEFAULT["ensemble"], inputs=DEFAULT["inputs"], head=DEFAULT["head"], targets=None,
                 loss=DEFAULT["loss"], decoder=DEFAULT["decoder"], unlabelled=None, pretrain_samples=1_000_000,
                 pretrain_batch=5000, pretrain_lr=DEFAULT["pretrain_lr"], inner_folds=5, device="cpu", random_state=0,
                 warm_start=False):
        self.masks = masks
        self.strategy = strategy
        self.alpha = alpha
        self.init_scale = init_scale
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.ensemble = ensemble
        self.inputs = inputs
        self.head = head
        self.targets = targets
        self.loss = loss
        self.decoder = decoder
        self.unlabelled = unlabelled
        self.pretrain_samples = pretrain_samples
        self.pretrain_batch = pretrain_batch
        self.pretrain_lr = pretrain_lr
        self.inner_folds = inner_folds
        self.device = device
        self.random_state = random_state
        self.warm_start = warm_start

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True  # a network fitted on a few samples in a few steps
        return tags

    # ------------------------------------------------------------ settings
    def _settings(self, alpha):
        """The checked settings (the command line's checks: evaluation.config)."""
        from .evaluation.config import build_config

        cfg = build_config("default", strategy=self.strategy, inputs=self.inputs, decoder=self.decoder, head=self.head,
                           pretrain_lr=self.pretrain_lr, max_steps=self.max_iter, ensemble=self.ensemble,
                           loss=self.loss, l2=alpha, init_scale=self.init_scale, optimizer=self.optimizer,
                           finetune_lr=self.learning_rate, tol=self.tol, pretrain_samples=self.pretrain_samples,
                           batch=self.pretrain_batch)
        if len(cfg.strategies) != 1 or cfg.strategies[0] not in ("B", "C"):
            raise ValueError(f"strategy must be 'B' or 'C' (a wiring), got {self.strategy!r}")
        return cfg

    def _resolve_masks(self, n_features, names):
        m = self.masks
        if isinstance(m, str) and m == "random":
            return random_masks(n_features, self.random_state, names)
        if m is None:
            return read_masks(shipped_mask_path("iJO1366"))
        if isinstance(m, Masks):
            return m
        if isinstance(m, (str, bytes)) or hasattr(m, "__fspath__"):
            return read_masks(m)
        import scipy.sparse as sp

        wiring = sp.csr_matrix(m)
        if wiring.shape[1] != n_features:
            raise ValueError(f"masks: a {wiring.shape} matrix wires {wiring.shape[1]} features, X has {n_features}")
        ids = list(names) if names is not None else [f"x{i}" for i in range(n_features)]
        nodes = [f"node{i}" for i in range(wiring.shape[0])]
        return Masks(ids, list(ids), nodes, list(nodes), sp.identity(n_features, format="csr"), wiring)

    def _columns(self, names, masks):
        """Where each model gene's values are in X (-1: not in X, taken as 0), by ID when X names its columns
        with the masks' gene IDs, else by position."""
        genes = masks.gene_ids
        if names is not None:
            where = {n: i for i, n in enumerate(names)}
            columns = np.array([where.get(g, -1) for g in genes], dtype=np.int64)
            if (columns >= 0).any():
                return columns
        if len(names or [None] * self.n_features_in_) != len(genes):
            raise ValueError(f"X has {self.n_features_in_} columns and none is named by a gene ID of the masks; give "
                             f"a DataFrame with gene IDs as columns or an array of the masks' {len(genes)} genes in order")
        return np.arange(len(genes), dtype=np.int64)

    def _check_X(self, X, reset: bool):
        names = _names(X)
        arr = check_array(_values(X), dtype=[np.float64, np.float32], ensure_all_finite=True,
                          estimator=self, input_name="X")
        if reset:
            self.n_features_in_ = arr.shape[1]
            if names is not None:
                self.feature_names_in_ = np.asarray(names, dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            if arr.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                                 f"{self.n_features_in_} features as input.")
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and names is not None and list(fitted) != names:
                raise ValueError("The feature names should match those that were passed during fit (the same gene "
                                 "columns in the same order).")
        return arr, names

    def _model_inputs(self, arr):
        """X's values in the masks' gene order (genes not in X: 0), float32."""
        out = np.zeros((arr.shape[0], len(self.masks_.gene_ids)), dtype=np.float32)
        present = self.gene_columns_ >= 0
        out[:, present] = arr[:, self.gene_columns_[present]]
        return out

    # ------------------------------------------------------------ fit
    def fit(self, X, y, groups=None, sample_weight=None):
        """Fit the networks on (X, y); ``groups`` (one per sample) make ``alpha="auto"``'s inner folds grouped;
        ``sample_weight`` weighs each sample in the loss and the input standardisation."""
        return self._fit(X, y, groups, sample_weight, self.alpha, None, None, self.inner_folds)

    def _fit(self, X, y, groups, sample_weight, alpha, l2_path, folds, n_inner):
        from .data.standardise import ArraySource, fit_input_transform

        cfg = self._settings(alpha)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        arr, names = self._check_X(X, reset=True)
        y_arr = check_array(y, ensure_2d=False, ensure_all_finite="allow-nan", dtype=np.float64, input_name="y")
        if y_arr.shape[0] != arr.shape[0]:
            raise ValueError(f"X has {arr.shape[0]} samples, y has {y_arr.shape[0]}")
        self._y_1d = y_arr.ndim == 1
        y2 = y_arr.reshape(-1, 1) if self._y_1d else y_arr
        labelled = np.isfinite(y2).any(axis=1)
        if labelled.sum() < 2:
            raise ValueError(f"fitting needs at least 2 samples with an observed target, got n_samples={int(labelled.sum())}")
        self.n_outputs_ = y2.shape[1]
        masks = self._resolve_masks(arr.shape[1], names)
        self.masks_ = masks
        self.gene_columns_ = self._columns(names, masks)
        x_all = self._model_inputs(arr)
        pool = x_all
        if self.unlabelled is not None:
            extra, extra_names = check_array(_values(self.unlabelled), dtype=[np.float64, np.float32]), _names(self.unlabelled)
            if extra.shape[1] != arr.shape[1] or (names is not None and extra_names is not None and extra_names != names):
                raise ValueError("unlabelled: needs the same columns as X")
            pool = np.concatenate([x_all, self._model_inputs(extra)])
        weights = None
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (arr.shape[0],) or (sample_weight < 0).any() or not np.isfinite(sample_weight).all():
                raise ValueError(f"sample_weight needs one finite weight >= 0 per sample ({arr.shape[0]})")
            if not sample_weight.sum() > 0:
                raise ValueError("Sample weights must contain at least one non-zero number.")
            weights = np.concatenate([sample_weight, np.ones(pool.shape[0] - arr.shape[0])])
        rows = np.concatenate([np.flatnonzero(labelled), np.flatnonzero(~labelled),
                               np.arange(x_all.shape[0], pool.shape[0])])  # labelled first, as train orders its pool
        transform = fit_input_transform(ArraySource(pool), rows, cfg.inputs,
                                        weights=None if weights is None else weights[rows])
        self.input_transform_ = transform
        x_lab, y_lab = x_all[labelled], y2[labelled]
        sw = None if sample_weight is None else sample_weight[labelled]
        spec = NetworkSpec(cfg.strategies[0], Architecture(cfg.architecture.decoder, cfg.architecture.head),
                           cfg.ensemble, cfg.finetune, _device(self.device))
        targets = self._target_indices(masks)
        if spec.finetune.l2 == "auto" and folds is None:
            g = None if groups is None else list(np.asarray(groups, dtype=object)[labelled])
            n = int(labelled.sum())
            folds = (grouped_kfold(g, n_inner, self.random_state) if g is not None and len(set(g)) >= 2
                     else kfold(n, min(n_inner, n), self.random_state))
        pretrained = self._pretrainer(cfg, spec, pool, rows, transform) if spec.strategy == "C" else None
        initial = None
        if self.warm_start and hasattr(self, "encoder_") and getattr(self, "_wiring_shape", None) == \
                masks.protein_phenotype.shape:
            initial = [[m.params for m in getattr(self.encoder_, "members", [self.encoder_])]]
        [fitted] = fit_networks(spec, [masks], transform.apply(x_lab), y_lab, targets, self.random_state, pretrained,
                                folds, sample_weight=sw, l2_path=l2_path, initial=initial)
        self.encoder_ = fitted.encoder.to("cpu")  # kept on the CPU: a pickled estimator loads anywhere
        self._device_encoder = None
        self.columns_ = fitted.columns
        self._wiring_shape = masks.protein_phenotype.shape
        self.alpha_ = float(fitted.record.get("l2_chosen", spec.finetune.l2))
        if "l2_inner_loss" in fitted.record:
            self.alpha_path_ = list(fitted.record["l2_path"])
            self.alpha_inner_loss_ = list(fitted.record["l2_inner_loss"])
        self.n_iter_ = int(np.size(fitted.record["finetune_losses"]))
        self.stop_reason_ = fitted.record["stop"]
        return self

    def _target_indices(self, masks):
        if self.head == "node":
            if self.targets is None or len(self.targets) != self.n_outputs_:
                raise ValueError("head='node' needs targets: the phenotype ID of each output")
            from .data.phenotypes import find_phenotype

            index = {p: i for i, p in enumerate(masks.phenotype_ids)}
            return np.array([index[find_phenotype(t, masks)] for t in self.targets], dtype=np.int64)
        return np.full(self.n_outputs_, -1, dtype=np.int64)

    def _pretrainer(self, cfg, spec, pool, rows, transform):
        from .data.standardise import ArraySource, TransformedSource
        from .masks.store import linked_genes
        from .training.network import build_autoencoder
        from .training.pretrain import pretrain

        def pretrained(masks, k, label):
            import time

            net = build_autoencoder(masks, "C", self.random_state + k * MEMBER_SEED, spec.device, spec.architecture)
            t0 = time.perf_counter()
            losses = pretrain(net, TransformedSource(ArraySource(pool), transform), rows, cfg.pretrain,
                              linked_genes(masks), self.random_state + k * MEMBER_SEED)
            return net.state_dict(), losses, time.perf_counter() - t0

        return pretrained

    # ------------------------------------------------------------ predict
    def _encoder(self):
        device = _device(self.device)
        if device == "cpu":
            return self.encoder_
        if getattr(self, "_device_encoder", None) is None:
            import copy

            self._device_encoder = copy.deepcopy(self.encoder_).to(device)
        return self._device_encoder

    def predict(self, X, return_std: bool = False):
        """Predictions (samples,) or (samples, outputs): the mean of the ensemble's networks; with
        ``return_std`` also their standard deviation."""
        check_is_fitted(self, "encoder_")
        arr, _ = self._check_X(X, reset=False)
        x = self.input_transform_.apply(self._model_inputs(arr))
        encoder = self._encoder()
        mean = predict(encoder, x, self.columns_)  # the ensemble's mean, as sparsenet train predicts
        if return_std:
            members = member_predictions(encoder, x, self.columns_)  # networks x samples x outputs
            sd = members.std(axis=0, ddof=1) if members.shape[0] > 1 else np.zeros_like(mean)
        else:
            sd = mean
        if self._y_1d:
            mean, sd = mean[:, 0], sd[:, 0]
        return (mean, sd) if return_std else mean

    def predict_anndata(self, adata, key: str = "sparsenet"):
        """Predict for every cell/sample of an AnnData and write the predictions into ``adata.obs``
        (``key``, or ``key_<i>`` per output, and ``key_sd`` for the ensemble's spread). Returns ``adata``."""
        mean, sd = self.predict(adata, return_std=True)
        mean, sd = mean.reshape(len(mean), -1), sd.reshape(len(sd), -1)
        for j in range(mean.shape[1]):
            name = key if mean.shape[1] == 1 else f"{key}_{j}"
            adata.obs[name] = mean[:, j]
            adata.obs[f"{name}_sd"] = sd[:, j]
        return adata

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_device_encoder", None)  # a GPU copy stays behind: the pickle holds CPU arrays only
        return state


class SparseNetRegressorCV(SparseNetRegressor):
    """``SparseNetRegressor`` with the L2 penalty chosen by inner cross-validation of the training samples.

    ``alphas``: the penalties, tried from strong to weak with warm starts; ``cv``: the number of inner folds
    (grouped by ``groups`` when given) or a scikit-learn splitter (``GroupKFold(5)``). After ``fit``:
    ``alpha_`` (chosen), ``alphas_`` and ``cv_loss_`` (mean inner held-out loss at each)."""

    def __init__(self, alphas=L2_PATH, cv=5, masks=None, strategy=DEFAULT["strategy"], init_scale=DEFAULT["init_scale"],
                 max_iter=DEFAULT["max_steps"], tol=1e-4, learning_rate=None, optimizer=DEFAULT["optimizer"],
                 ensemble=DEFAULT["ensemble"], inputs=DEFAULT["inputs"], head=DEFAULT["head"], targets=None,
                 loss=DEFAULT["loss"], decoder=DEFAULT["decoder"], unlabelled=None, pretrain_samples=1_000_000,
                 pretrain_batch=5000, pretrain_lr=DEFAULT["pretrain_lr"], device="cpu", random_state=0,
                 warm_start=False):
        self.alphas = alphas
        self.cv = cv
        self.masks = masks
        self.strategy = strategy
        self.init_scale = init_scale
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.ensemble = ensemble
        self.inputs = inputs
        self.head = head
        self.targets = targets
        self.loss = loss
        self.decoder = decoder
        self.unlabelled = unlabelled
        self.pretrain_samples = pretrain_samples
        self.pretrain_batch = pretrain_batch
        self.pretrain_lr = pretrain_lr
        self.device = device
        self.random_state = random_state
        self.warm_start = warm_start

    def fit(self, X, y, groups=None, sample_weight=None):
        alphas = sorted((float(a) for a in self.alphas), reverse=True)  # strong -> weak
        if not alphas or min(alphas) < 0:
            raise ValueError("alphas: give penalties >= 0")
        folds, n_inner = None, self.cv if isinstance(self.cv, int) else 5
        if not isinstance(self.cv, int):  # a splitter, or (train, test) pairs, over the labelled samples
            y_arr = np.asarray(y, dtype=float)
            labelled = np.isfinite(y_arr.reshape(len(y_arr), -1)).any(axis=1)
            g = None if groups is None else np.asarray(groups, dtype=object)[labelled]
            splits = self.cv.split(np.zeros((int(labelled.sum()), 1)), y_arr[labelled], g) if hasattr(self.cv, "split") \
                else self.cv
            folds = [np.asarray(test) for _, test in splits]
        self._fit(X, y, groups, sample_weight, "auto", alphas, folds, n_inner)
        self.alphas_, self.cv_loss_ = self.alpha_path_, self.alpha_inner_loss_
        return self


def _device(device: str) -> str:
    from . import backend

    return backend.resolve_device(device)

"""scikit-learn estimators: the biology-guided network where computational biologists already work
(``cross_validate`` with ``GroupKFold``, ``GridSearchCV``, ``Pipeline``).

``SparseNetRegressor`` is the network ``sparsenet train`` fits (the same code: ``training.fitting``),
with its parameters as plain values and nothing built in ``__init__``. ``SparseNetRegressorCV``
chooses the L2 penalty by inner cross-validation of the training samples (any scikit-learn splitter,
``GroupKFold`` with ``groups``), along a path from strong to weak with warm starts.

``X``: a DataFrame (or AnnData) whose columns are gene IDs or symbols (thrA, any letter case), mapped to the
masks' genes as the command line maps them (model genes not in X are 0; columns that name no gene are named
in one warning, and X must hold at least ``min_gene_share`` of the masks' genes), or an array in the masks'
gene order. Rows whose
``y`` is all missing (NaN) are unlabelled: they take part in the input standardisation (and, for
strategy C, pre-training) only. ``unlabelled``: more profiles (the same columns as X) for the same
purpose, e.g. a compendium's profiles without a phenotype.
"""

from __future__ import annotations

import inspect
import os
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from .data.standardise import INPUTS
from .config.run_config import PRESETS
from .runs.folds import grouped_kfold, kfold
from .masks.store import Masks, read_masks, shipped_mask_path
from .training.finetune import LOSSES, OPTIMIZERS, member_predictions, predict
from .training.fitting import MEMBER_SEED, NetworkSpec, fit_networks
from .training.network import DECODERS, HEADS, Architecture
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


def _without_text(X):
    """A DataFrame without its columns of text (a lab's strain or notes beside the genes), named in one warning,
    as ``sparsenet train`` leaves them out of a table; anything else as it is."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "drop"):
        return X
    import pandas as pd

    text = [
        c
        for c, dt in dtypes.items()
        if dt.kind in "OSU" or str(dt) in ("category", "string")
        if pd.to_numeric(X[c], errors="coerce").notna().sum() == 0 and X[c].notna().sum() >= 2
    ]
    if not text:
        return X
    warnings.warn(
        f"X: {len(text)} column{'s' if len(text) > 1 else ''} of text, not levels, left out: "
        + ", ".join(map(str, text[:8]))
        + (" ..." if len(text) > 8 else ""),
        UserWarning,
        stacklevel=4,
    )
    return X.drop(columns=text)


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
    return Masks(
        ids,
        list(ids),
        [f"node{i}" for i in range(nodes)],
        [f"node{i}" for i in range(nodes)],
        sp.identity(n_features, format="csr"),
        sp.csr_matrix(m.astype(np.int8)),
        attrs={"kind": "random", "seed": int(seed), "density": density},
    )


class _SparseNetBase(RegressorMixin, BaseEstimator):
    """What both estimators share: their parameters (keyword-only after ``masks``, each checked against
    ``_parameter_constraints`` when ``fit`` starts), fitting, prediction and intervals. Subclasses add how the
    penalty is set."""

    _parameter_constraints = {
        "masks": [None, str, os.PathLike, Masks, "array-like", "sparse matrix"],
        "strategy": [StrOptions({"B", "C"})],
        "init_scale": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [None, Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "ensemble": [Interval(Integral, 1, None, closed="left")],
        "inputs": [StrOptions(set(INPUTS))],
        "head": [StrOptions(set(HEADS))],
        "targets": [None, "array-like"],
        "loss": [StrOptions(set(LOSSES))],
        "decoder": [StrOptions(set(DECODERS))],
        "unlabelled": "no_validation",  # an array, a DataFrame or an AnnData: checked where it is read
        "pretrain_samples": [Interval(Integral, 1, None, closed="left")],
        "pretrain_batch": [Interval(Integral, 1, None, closed="left")],
        "pretrain_lr": [Interval(Real, 0, None, closed="neither")],
        "device": [StrOptions({"cpu", "gpu", "auto"})],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "min_gene_share": [Interval(Real, 0, 1, closed="both")],
        "interval_cv": [None, Interval(Integral, 2, None, closed="left")],
        "duplicates": [StrOptions({"mean", "first", "error"})],
    }

    def __init__(
        self,
        masks=None,
        *,
        strategy=DEFAULT["strategy"],
        init_scale=DEFAULT["init_scale"],
        max_iter=DEFAULT["max_steps"],
        tol=1e-4,
        learning_rate=None,
        optimizer=DEFAULT["optimizer"],
        ensemble=DEFAULT["ensemble"],
        inputs=DEFAULT["inputs"],
        head=DEFAULT["head"],
        targets=None,
        loss=DEFAULT["loss"],
        decoder=DEFAULT["decoder"],
        unlabelled=None,
        pretrain_samples=1_000_000,
        pretrain_batch=5000,
        pretrain_lr=DEFAULT["pretrain_lr"],
        device="cpu",
        random_state=0,
        warm_start=False,
        min_gene_share=0.5,
        interval_cv=None,
        duplicates="mean",
    ):
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
        self.min_gene_share = min_gene_share
        self.interval_cv = interval_cv
        self.duplicates = duplicates

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True  # a network fitted on a few samples in a few steps
        return tags

    # ------------------------------------------------------------ settings
    def _settings(self, alpha):
        """The checked settings (the command line's checks: config.run_config)."""
        from .config.run_config import build_config

        cfg = build_config(
            "default",
            strategy=self.strategy,
            inputs=self.inputs,
            decoder=self.decoder,
            head=self.head,
            pretrain_lr=self.pretrain_lr,
            max_steps=self.max_iter,
            ensemble=self.ensemble,
            loss=self.loss,
            l2=alpha,
            init_scale=self.init_scale,
            optimizer=self.optimizer,
            finetune_lr=self.learning_rate,
            tol=self.tol,
            pretrain_samples=self.pretrain_samples,
            batch=self.pretrain_batch,
        )
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

    def _columns(self, names, masks, fitting: bool = True):
        """Which columns of X give each model gene, as a (columns x genes) selection matrix: by gene ID or symbol
        when X names its columns (``data.genes.map_gene_labels``; a gene named by several columns, pandas'
        'thrA.1' included, is their mean, or the first, as ``duplicates`` says and as ``train --duplicates``
        does), else by position; a gene no column gives is 0. Columns that name no gene are named in one
        warning; a DataFrame holding too few of the masks' genes is refused, naming the columns that matched
        nothing."""
        import scipy.sparse as sp

        from .data.genes import map_gene_labels

        genes = masks.gene_ids
        if names is None:
            if self.n_features_in_ != len(genes):
                raise ValueError(
                    f"X has {self.n_features_in_} columns, the masks {len(genes)} genes: give a DataFrame "
                    "with gene IDs or symbols as columns, or an array of the masks' "
                    f"{len(genes)} genes in "
                    "order"
                )
            return sp.identity(len(genes), format="csr", dtype=np.float64)
        mapping = map_gene_labels(names, masks, duplicates="mean" if self.duplicates == "error" else self.duplicates)
        if mapping.duplicates and self.duplicates == "error":
            raise ValueError(
                "X has several columns for one gene: "
                + ", ".join(f"{g} as {' and '.join(map(str, v))}" for g, v in mapping.duplicates.items())
                + "; keep one of each, or duplicates='mean' (averaged, as train does) or 'first'"
            )
        position = {g: i for i, g in enumerate(genes)}
        sources: dict = {}
        for j, g in enumerate(mapping.model_ids):
            if g is not None and g in position:
                sources.setdefault(position[g], []).append(j)
        rows, cols, vals = [], [], []
        for gene, js in sources.items():
            js = js[:1] if self.duplicates == "first" else js
            rows += js
            cols += [gene] * len(js)
            vals += [1.0 / len(js)] * len(js)
        selection = sp.csr_matrix((vals, (rows, cols)), shape=(len(names), len(genes)))
        found = len(sources)
        unmatched = [str(n) for n, g in zip(names, mapping.model_ids, strict=True) if g is None]
        if fitting and found < self.min_gene_share * len(genes):
            raise ValueError(
                f"X's columns name {found} of the masks' {len(genes)} genes "
                f"({100 * found / len(genes):.0f} %, below min_gene_share {self.min_gene_share:g}): "
                f"{len(unmatched)} columns match no gene ID or symbol (like "
                f"{', '.join(map(repr, unmatched[:3]))}; the masks' genes look like "
                f"{masks.gene_ids[0]!r}); rename the columns, or lower min_gene_share"
            )
        said = []
        if unmatched:
            said.append(
                f"{len(unmatched)} columns of X name no gene of the masks and are not used: "
                + ", ".join(unmatched[:8])
                + (f" and {len(unmatched) - 8} more" if len(unmatched) > 8 else "")
            )
        if found < len(genes):
            missing = [g for k, g in enumerate(genes) if k not in sources]
            said.append(
                f"{len(missing)} of the masks' {len(genes)} genes are not in X and are taken as 0 (no change): "
                + ", ".join(missing[:8])
                + (" ..." if len(missing) > 8 else "")
            )
        if mapping.duplicates:
            said.append(
                f"{len(mapping.duplicates)} gene(s) named by several columns "
                f"({'averaged' if self.duplicates == 'mean' else 'the first kept'}): "
                + ", ".join(f"{g} as {' and '.join(map(str, v))}" for g, v in mapping.duplicates.items())
            )
        if said:
            warnings.warn("; ".join(said), UserWarning, stacklevel=4)
        return selection

    def _check_X(self, X, reset: bool):
        names = _names(X)
        arr = check_array(
            _values(X), dtype=[np.float64, np.float32], ensure_all_finite=True, estimator=self, input_name="X"
        )
        if reset:
            self.n_features_in_ = arr.shape[1]
            if names is not None:
                self.feature_names_in_ = np.asarray(names, dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return arr, None
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None:  # aligned by name, in any order
            if list(fitted) == names:
                return arr, self.gene_columns_
            columns = self._columns(names, self.masks_, fitting=False)
            if not columns.nnz:
                raise ValueError(
                    "The feature names should match those that were passed during fit: none of X's "
                    f"columns (like {names[0]!r}) names a gene of the masks"
                )
            return arr, columns
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return arr, self.gene_columns_

    def _model_inputs(self, arr, columns=None):
        """X's values in the masks' gene order (genes not in X: 0; a gene of several columns: their mean, or
        the first), float32."""
        columns = self.gene_columns_ if columns is None else columns
        return np.asarray((columns.T @ np.asarray(arr, dtype=np.float64).T).T, dtype=np.float32)

    # ------------------------------------------------------------ fit
    def _fit(self, X, y, groups, sample_weight, alpha, l2_path, folds, n_inner):
        from .data.standardise import ArraySource, fit_input_transform

        cfg = self._settings(alpha)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        X = _without_text(X)
        arr, _ = self._check_X(X, reset=True)
        names = _names(X)
        y_arr = check_array(y, ensure_2d=False, ensure_all_finite="allow-nan", dtype=np.float64, input_name="y")
        if y_arr.shape[0] != arr.shape[0]:
            raise ValueError(f"X has {arr.shape[0]} samples, y has {y_arr.shape[0]}")
        self._y_1d = y_arr.ndim == 1
        y2 = y_arr.reshape(-1, 1) if self._y_1d else y_arr
        labelled = np.isfinite(y2).any(axis=1)
        if labelled.sum() < 2:
            raise ValueError(
                f"fitting needs at least 2 samples with an observed target, got n_samples={int(labelled.sum())}"
            )
        constant = [j for j in range(y2.shape[1]) if np.nanstd(y2[labelled, j]) == 0]
        if constant:  # as train refuses: a network fitted to one value says nothing
            raise ValueError(
                f"y{'' if self._y_1d else f' column {constant[0]}'} is constant "
                f"({np.nanmean(y2[labelled, constant[0]]):g} in every sample): nothing to learn; give "
                "samples whose phenotype varies"
            )
        if (~labelled).any():  # as train leaves them out of fine-tuning: said, not silent
            warnings.warn(
                f"{int((~labelled).sum())} samples have no y (NaN) and are left out of fine-tuning (they "
                "still join the inputs' standardisation and pre-training)",
                UserWarning,
                stacklevel=3,
            )
        self.n_outputs_ = y2.shape[1]
        masks = self._resolve_masks(arr.shape[1], names)
        gene_masks = self.masks is None or (isinstance(self.masks, (str, os.PathLike)) and self.masks != "random")
        if gene_masks:  # genes: levels on a log scale
            from .data.tables import looks_linear

            facts = looks_linear(arr)
            if facts:
                raise ValueError(
                    f"X looks linear, not log2 (99 % below {facts['p99']:,.0f}, largest "
                    f"{facts['max']:,.0f}; log2 levels stay below ~25): TPM or counts? fit on "
                    "np.log2(X + 1), as sparsenet train --transform log2p1 does"
                )
        self.masks_ = masks
        self.gene_columns_ = self._columns(names, masks)
        x_all = self._model_inputs(arr)
        pool = x_all
        if self.unlabelled is not None:
            extra, extra_names = (
                check_array(_values(self.unlabelled), dtype=[np.float64, np.float32]),
                _names(self.unlabelled),
            )
            if names is not None and extra_names is not None and extra_names != names:
                columns = self._columns(extra_names, masks, fitting=False)
            elif extra.shape[1] != arr.shape[1]:
                raise ValueError("unlabelled: needs the same columns as X")
            else:
                columns = None
            pool = np.concatenate([x_all, self._model_inputs(extra, columns)])
        weights = None
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if (
                sample_weight.shape != (arr.shape[0],)
                or (sample_weight < 0).any()
                or not np.isfinite(sample_weight).all()
            ):
                raise ValueError(f"sample_weight needs one finite weight >= 0 per sample ({arr.shape[0]})")
            if not sample_weight.sum() > 0:
                raise ValueError("Sample weights must contain at least one non-zero number.")
            weights = np.concatenate([sample_weight, np.ones(pool.shape[0] - arr.shape[0])])
        rows = np.concatenate(
            [np.flatnonzero(labelled), np.flatnonzero(~labelled), np.arange(x_all.shape[0], pool.shape[0])]
        )  # labelled first, as train orders its pool
        transform = fit_input_transform(
            ArraySource(pool), rows, cfg.inputs, weights=None if weights is None else weights[rows]
        )
        self.input_transform_ = transform
        x_lab, y_lab = x_all[labelled], y2[labelled]
        sw = None if sample_weight is None else sample_weight[labelled]
        spec = NetworkSpec(
            cfg.strategies[0],
            Architecture(cfg.architecture.decoder, cfg.architecture.head),
            cfg.ensemble,
            cfg.finetune,
            _device(self.device),
        )
        targets = self._target_indices(masks)
        if spec.finetune.l2 == "auto" and folds is None:
            g = None if groups is None else list(np.asarray(groups, dtype=object)[labelled])
            n = int(labelled.sum())
            if g is not None and len(set(g)) < n_inner:  # as train refuses too few groups for its folds
                raise ValueError(
                    f"alpha='auto' chooses the penalty on {n_inner} inner folds grouped by groups, but "
                    f"the samples fall in {len(set(g))} group(s): give inner_folds={max(2, len(set(g)))} "
                    "or fewer, more groups, or a fixed alpha"
                )
            folds = (
                grouped_kfold(g, n_inner, self.random_state)
                if g is not None and len(set(g)) >= 2
                else kfold(n, min(n_inner, n), self.random_state)
            )
        pretrained = self._pretrainer(cfg, spec, pool, rows, transform) if spec.strategy == "C" else None
        initial = None
        if (
            self.warm_start
            and hasattr(self, "encoder_")
            and getattr(self, "_wiring_shape", None) == masks.protein_phenotype.shape
        ):
            initial = [[m.params for m in getattr(self.encoder_, "members", [self.encoder_])]]
        [fitted] = fit_networks(
            spec,
            [masks],
            transform.apply(x_lab),
            y_lab,
            targets,
            self.random_state,
            pretrained,
            folds,
            sample_weight=sw,
            l2_path=l2_path,
            initial=initial,
        )
        self.encoder_ = fitted.encoder.to("cpu")  # kept on the CPU: a pickled estimator loads anywhere
        self._device_encoder = None
        self.columns_ = fitted.columns
        self._wiring_shape = masks.protein_phenotype.shape
        rec = fitted.record
        self.alpha_ = float(spec.finetune.l2 if rec.l2_chosen is None else rec.l2_chosen)
        if rec.l2_inner_loss is not None:
            self.alpha_path_ = list(rec.l2_path)
            self.alpha_inner_loss_ = list(rec.l2_inner_loss)
        self.n_iter_ = int(np.size(rec.finetune_losses))
        self.stop_reason_ = rec.stop
        self.residuals_ = None
        if self.interval_cv:
            self._held_out_residuals(X, y2, labelled, groups, sample_weight)
        return self

    def _held_out_residuals(self, X, y2, labelled, groups, sample_weight):
        """``residuals_``: each labelled sample's held-out residual over ``interval_cv`` folds (grouped by
        ``groups``), the same settings refitted per fold: what ``predict(return_interval=...)`` stands on."""
        from sklearn.base import clone

        rows = np.flatnonzero(labelled)
        g = None if groups is None else list(np.asarray(groups, dtype=object)[labelled])
        k = int(self.interval_cv)
        folds = (
            grouped_kfold(g, k, self.random_state)
            if g is not None and len(set(g)) >= 2
            else kfold(rows.size, min(k, rows.size), self.random_state)
        )
        residuals = np.full((rows.size, y2.shape[1]), np.nan)
        take = (lambda idx: X.iloc[idx]) if hasattr(X, "iloc") else (lambda idx: X[idx])
        for test in folds:
            inner = clone(self).set_params(interval_cv=None, warm_start=False)
            train_rows = np.setdiff1d(np.arange(y2.shape[0]), rows[test])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # said once, by the fit on all samples
                inner.fit(
                    take(train_rows),
                    y2[train_rows, 0] if self._y_1d else y2[train_rows],
                    None if groups is None else np.asarray(groups, dtype=object)[train_rows],
                    None if sample_weight is None else np.asarray(sample_weight)[train_rows],
                )
                pred = inner.predict(take(rows[test]))
            residuals[test] = y2[rows[test]] - np.asarray(pred).reshape(len(test), -1)
        self.residuals_ = residuals

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
            losses = pretrain(
                net,
                TransformedSource(ArraySource(pool), transform),
                rows,
                cfg.pretrain,
                linked_genes(masks),
                self.random_state + k * MEMBER_SEED,
            )
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

    def predict(self, X, return_std: bool = False, return_interval: float | None = None):
        """Predictions (samples,) or (samples, outputs): the mean of the ensemble's networks; with
        ``return_std`` also their standard deviation (their spread, not an error bar); with
        ``return_interval=level`` (e.g. 0.9) also the interval, (samples, 2) or (samples, outputs, 2), from the
        held-out residuals of ``interval_cv`` folds (split-conformal). Returns the mean, followed by the sd and
        the interval when asked for."""
        check_is_fitted(self, "encoder_")
        arr, columns = self._check_X(_without_text(X), reset=False)
        share = len(set(columns.indices)) / max(1, columns.shape[1])  # the masks' genes X gives
        if share < self.min_gene_share:  # as sparsenet predict refuses: predictions from a few genes are guesses
            raise ValueError(
                f"X gives {100 * share:.0f} % of the masks' {columns.shape[1]} genes, below "
                f"min_gene_share {self.min_gene_share:g}: predictions would rest on few genes; give the "
                "genes the model was fitted on"
            )
        x = self.input_transform_.apply(self._model_inputs(arr, columns))
        encoder = self._encoder()
        mean = predict(encoder, x, self.columns_)  # the ensemble's mean, as sparsenet train predicts
        out = [mean]
        if return_std:
            members = member_predictions(encoder, x, self.columns_)  # networks x samples x outputs
            out.append(members.std(axis=0, ddof=1) if members.shape[0] > 1 else np.zeros_like(mean))
        if return_interval is not None:
            from .stats.intervals import half_width

            if getattr(self, "residuals_", None) is None:
                raise ValueError(
                    "return_interval needs held-out residuals: fit with interval_cv=5 (grouped by the "
                    "groups passed to fit)"
                )
            q = np.array(
                [half_width(np.abs(self.residuals_[:, j]), return_interval) for j in range(self.residuals_.shape[1])]
            )
            out.append(np.stack([mean - q, mean + q], axis=-1))
        if self._y_1d:
            out = [o[:, 0] for o in out]
        return tuple(out) if len(out) > 1 else out[0]

    def score(self, X, y, sample_weight=None):
        """R² of ``predict(X)`` against ``y`` (RegressorMixin's), on the samples whose ``y`` is observed: a NaN in
        ``y`` is left out with a warning, as ``fit`` and ``sparsenet train`` leave it out, not scored as NaN."""
        y_arr = np.asarray(y, dtype=np.float64)
        observed = np.isfinite(y_arr) if y_arr.ndim == 1 else np.isfinite(y_arr).all(axis=1)
        if observed.all():
            return super().score(X, y, sample_weight)
        if not observed.any():
            raise ValueError("score: every y is NaN; nothing to score")
        warnings.warn(
            f"score: {int((~observed).sum())} samples with no y (NaN) are left out", UserWarning, stacklevel=2
        )
        rows = np.flatnonzero(observed)
        X_obs = X.iloc[rows] if hasattr(X, "iloc") else X[rows]  # a DataFrame by position; an array, AnnData
        w = None if sample_weight is None else np.asarray(sample_weight)[rows]
        return super().score(X_obs, y_arr[rows], w)

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


class SparseNetRegressor(_SparseNetBase):
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
    min_gene_share : a DataFrame's columns must map to at least this share of the masks' genes (else ``fit``
        raises instead of fitting a near-constant model)
    interval_cv : folds (grouped by ``groups`` when given) whose held-out residuals back
        ``predict(X, return_interval=level)``; None: no intervals (fitting them costs that many more fits)
    """

    _parameter_constraints = {
        **_SparseNetBase._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "inner_folds": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(
        self,
        masks=None,
        *,
        strategy=DEFAULT["strategy"],
        alpha=DEFAULT["l2"],
        init_scale=DEFAULT["init_scale"],
        max_iter=DEFAULT["max_steps"],
        tol=1e-4,
        learning_rate=None,
        optimizer=DEFAULT["optimizer"],
        ensemble=DEFAULT["ensemble"],
        inputs=DEFAULT["inputs"],
        head=DEFAULT["head"],
        targets=None,
        loss=DEFAULT["loss"],
        decoder=DEFAULT["decoder"],
        unlabelled=None,
        pretrain_samples=1_000_000,
        pretrain_batch=5000,
        pretrain_lr=DEFAULT["pretrain_lr"],
        inner_folds=5,
        device="cpu",
        random_state=0,
        warm_start=False,
        min_gene_share=0.5,
        interval_cv=None,
        duplicates="mean",
    ):
        super().__init__(masks, **_shared(locals()))
        self.alpha = alpha
        self.inner_folds = inner_folds

    def fit(self, X, y, groups=None, sample_weight=None):
        """Fit the networks on (X, y); ``groups`` (one per sample) make ``alpha="auto"``'s inner folds grouped;
        ``sample_weight`` weighs each sample in the loss and the input standardisation."""
        self._validate_params()
        return self._fit(X, y, groups, sample_weight, self.alpha, None, None, self.inner_folds)


class SparseNetRegressorCV(_SparseNetBase):
    """``SparseNetRegressor`` with the L2 penalty chosen by inner cross-validation of the training samples.

    ``alphas``: the penalties, tried from strong to weak with warm starts; ``cv``: the number of inner folds
    (grouped by ``groups`` when given) or a scikit-learn splitter (``GroupKFold(5)``). After ``fit``:
    ``alpha_`` (chosen), ``alphas_`` and ``cv_loss_`` (mean inner held-out loss at each). The other parameters
    are ``SparseNetRegressor``'s."""

    _parameter_constraints = {
        **_SparseNetBase._parameter_constraints,
        "alphas": ["array-like"],
        "cv": [Interval(Integral, 2, None, closed="left"), "cv_object"],
    }

    def __init__(
        self,
        masks=None,
        *,
        alphas=L2_PATH,
        cv=5,
        strategy=DEFAULT["strategy"],
        init_scale=DEFAULT["init_scale"],
        max_iter=DEFAULT["max_steps"],
        tol=1e-4,
        learning_rate=None,
        optimizer=DEFAULT["optimizer"],
        ensemble=DEFAULT["ensemble"],
        inputs=DEFAULT["inputs"],
        head=DEFAULT["head"],
        targets=None,
        loss=DEFAULT["loss"],
        decoder=DEFAULT["decoder"],
        unlabelled=None,
        pretrain_samples=1_000_000,
        pretrain_batch=5000,
        pretrain_lr=DEFAULT["pretrain_lr"],
        device="cpu",
        random_state=0,
        warm_start=False,
        min_gene_share=0.5,
        interval_cv=None,
        duplicates="mean",
    ):
        super().__init__(masks, **_shared(locals()))
        self.alphas = alphas
        self.cv = cv

    def fit(self, X, y, groups=None, sample_weight=None):
        """Choose the penalty along ``alphas`` by inner CV, then fit with it; arguments as
        ``SparseNetRegressor.fit``'s."""
        self._validate_params()
        alphas = sorted((float(a) for a in self.alphas), reverse=True)  # strong -> weak
        if not alphas or min(alphas) < 0:
            raise ValueError("alphas: give penalties >= 0")
        folds, n_inner = None, self.cv if isinstance(self.cv, int) else 5
        if not isinstance(self.cv, int):  # a splitter, or (train, test) pairs, over the labelled samples
            y_arr = np.asarray(y, dtype=float)
            labelled = np.isfinite(y_arr.reshape(len(y_arr), -1)).any(axis=1)
            g = None if groups is None else np.asarray(groups, dtype=object)[labelled]
            splits = (
                self.cv.split(np.zeros((int(labelled.sum()), 1)), y_arr[labelled], g)
                if hasattr(self.cv, "split")
                else self.cv
            )
            folds = [np.asarray(test) for _, test in splits]
        self._fit(X, y, groups, sample_weight, "auto", alphas, folds, n_inner)
        self.alphas_, self.cv_loss_ = self.alpha_path_, self.alpha_inner_loss_
        return self


def _shared(values: dict) -> dict:
    """The base class's parameters among a subclass's ``__init__`` arguments (its ``locals()``)."""
    return {name: values[name] for name in SHARED}


SHARED = [
    p.name
    for p in inspect.signature(_SparseNetBase.__init__).parameters.values()
    if p.kind is inspect.Parameter.KEYWORD_ONLY
]


def _device(device: str) -> str:
    from . import backend

    return backend.resolve_device(device)

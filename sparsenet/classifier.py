"""``SparseNetClassifier``: a biologically informed classifier (P-NET's and BINN's shape) as a scikit-learn
classifier: N masked tanh layers over a pathway hierarchy with dropout, a read-out to the classes
(``training.pathway_network``), inputs standardised on the training samples, ``ensemble`` networks averaged.

``masks``: a hierarchy (``masks.hierarchy.Hierarchy`` or its ``.h5`` file from ``sparsenet masks
hierarchy``), a masks file or ``Masks`` (one level: genes -> its nodes), a list of 0/1 matrices (level 1 x
features first), ``"random"`` (one random level over X's columns, seeded) or None: the shipped iJO1366
wiring (genes -> phenotype reactions) with a class read-out. A DataFrame's (or AnnData's) columns are matched
to the wiring's features by name (gene IDs or symbols for a ``Masks``), features missing from X read as the
training mean; an array must hold the wiring's features in order.
"""

from __future__ import annotations

import os
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted

from .estimator import _names, _values, random_masks
from .masks.hierarchy import Hierarchy, is_hierarchy_file, read_hierarchy
from .masks.store import Masks, read_masks, shipped_mask_path
from .training.pathway_network import PathwayTraining, class_probabilities, fit_network


def wiring_levels(masks) -> tuple:
    """(level masks, feature IDs or None) of anything ``SparseNetClassifier(masks=...)`` takes, but "random"."""
    import scipy.sparse as sp

    if masks is None:
        masks = read_masks(shipped_mask_path("iJO1366"))
    elif isinstance(masks, (str, bytes)) or hasattr(masks, "__fspath__"):
        masks = read_hierarchy(masks) if is_hierarchy_file(masks) else read_masks(masks)
    if isinstance(masks, Hierarchy):
        return [sp.csr_matrix(m) for m in masks.masks], list(masks.feature_ids)
    if isinstance(masks, Masks):
        level = sp.csr_matrix(masks.protein_phenotype) @ sp.csr_matrix(masks.gene_protein)
        return [sp.csr_matrix((level != 0).astype(np.int8))], masks
    levels = list(masks) if isinstance(masks, (list, tuple)) else [masks]
    levels = [sp.csr_matrix(m) for m in levels]
    for k in range(1, len(levels)):
        if levels[k].shape[1] != levels[k - 1].shape[0]:
            raise ValueError(
                f"masks: level {k + 1} reads {levels[k].shape[1]} inputs, level {k} has {levels[k - 1].shape[0]} nodes"
            )
    return levels, None


class SparseNetClassifier(ClassifierMixin, BaseEstimator):
    """A sparse, pathway-wired network classifier; see the module's docstring for ``masks``.

    activation: each level's (tanh, as BINN); dropout: share dropped after each level while training;
    max_epochs, batch_size, learning_rate: Adam on mini-batches; alpha: the L2 penalty (AdamW's decoupled
    weight decay); ensemble: networks averaged (seeds ``random_state`` + k); heads: a read-out after every
    level, their logits summed (P-NET's and BINN's ensemble of heads) instead of one on top."""

    _parameter_constraints = {
        "masks": [None, str, os.PathLike, Masks, Hierarchy, list, "array-like", "sparse matrix"],
        "activation": [StrOptions({"tanh", "relu", "sigmoid", "softplus"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "ensemble": [Interval(Integral, 1, None, closed="left")],
        "heads": ["boolean"],
        "device": [StrOptions({"cpu", "gpu", "auto"})],
        "random_state": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        masks=None,
        *,
        activation="tanh",
        dropout=0.2,
        max_epochs=100,
        batch_size=32,
        learning_rate=1e-2,
        alpha=1e-3,
        ensemble=1,
        heads=False,
        device="cpu",
        random_state=0,
    ):
        self.masks = masks
        self.activation = activation
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.ensemble = ensemble
        self.heads = heads
        self.device = device
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True  # a network fitted on a few samples
        return tags

    def _training(self) -> PathwayTraining:
        from .backend import resolve_device

        return PathwayTraining(
            self.activation,
            float(self.dropout),
            int(self.max_epochs),
            int(self.batch_size),
            float(self.learning_rate),
            float(self.alpha),
            resolve_device(self.device),
            heads=bool(self.heads),
        )

    # ------------------------------------------------------------ features
    def _feature_columns(self, names, n_features):
        """Where each wiring feature is in X (-1: absent)."""
        ids = self.feature_ids_
        if isinstance(ids, Masks):  # gene IDs or symbols, as the regressor maps them
            from .data.genes import map_gene_labels

            if names is None:
                if n_features != len(ids.gene_ids):
                    raise ValueError(
                        f"X has {n_features} columns, the masks {len(ids.gene_ids)} genes: give a "
                        "DataFrame with gene IDs or symbols as columns, or the masks' genes in order"
                    )
                return np.arange(n_features)
            mapped = map_gene_labels(names, ids).model_ids
            where = {g: i for i, g in enumerate(mapped) if g is not None}
            return np.array([where.get(g, -1) for g in ids.gene_ids], dtype=np.int64)
        if ids is None or names is None:
            if n_features != self.levels_[0].shape[1]:
                raise ValueError(f"X has {n_features} features, but the wiring reads {self.levels_[0].shape[1]}")
            return np.arange(n_features)
        where = {str(n): i for i, n in enumerate(names)}
        return np.array([where.get(f, -1) for f in ids], dtype=np.int64)

    def _inputs(self, arr, columns):
        """X's values in the wiring's feature order, standardised; absent features at the training mean (0)."""
        out = np.zeros((arr.shape[0], columns.size), dtype=np.float64)
        present = columns >= 0
        out[:, present] = (arr[:, columns[present]] - self.mean_[present]) / self.scale_[present]
        return out.astype(np.float32)

    # ------------------------------------------------------------ fit / predict
    def fit(self, X, y):
        self._validate_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        names = _names(X)
        arr = check_array(_values(X), dtype=[np.float64, np.float32], ensure_all_finite=True, estimator=self)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected.", DataConversionWarning, stacklevel=2
            )
            y = y.ravel()
        check_classification_targets(y)
        if y.shape[0] != arr.shape[0]:
            raise ValueError(f"X has {arr.shape[0]} samples, y has {y.shape[0]}")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"y has one class ({self.classes_[0]!r}): a classifier needs two or more; check the label column"
            )
        self.n_features_in_ = arr.shape[1]
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if isinstance(self.masks, str) and self.masks == "random":
            levels, ids = [random_masks(arr.shape[1], self.random_state).protein_phenotype], None
        else:
            levels, ids = wiring_levels(self.masks)
        self.levels_, self.feature_ids_ = levels, ids
        columns = self._feature_columns(names, arr.shape[1])
        present = columns >= 0
        if not present.any():
            raise ValueError(
                f"none of X's columns (like {names[0]!r}) is a feature of the wiring; rename them or "
                "build the wiring over these features (sparsenet masks hierarchy --data)"
            )
        self.feature_columns_ = columns
        self.mean_ = np.zeros(columns.size)
        self.scale_ = np.ones(columns.size)
        values = arr[:, columns[present]].astype(np.float64)
        self.mean_[present] = values.mean(axis=0)
        sd = values.std(axis=0)
        self.scale_[present] = np.where(sd > 0, sd, 1.0)
        x = self._inputs(arr, columns)
        training = self._training()
        self.networks_ = [
            fit_network(levels, x, codes, self.classes_.size, training, self.random_state + k).to("cpu")
            for k in range(self.ensemble)
        ]
        return self

    def _check_X(self, X):
        check_is_fitted(self, "networks_")
        names = _names(X)
        arr = check_array(_values(X), dtype=[np.float64, np.float32], ensure_all_finite=True, estimator=self)
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and list(fitted) != names:
            return arr, self._feature_columns(names, arr.shape[1])
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return arr, self.feature_columns_

    def predict_proba(self, X):
        """(samples x classes) probabilities, classes in ``classes_`` order, averaged over the networks."""
        arr, columns = self._check_X(X)
        x = self._inputs(arr, columns)
        return np.mean([class_probabilities(net, x, len(self.classes_)) for net in self.networks_], axis=0)

    def predict(self, X):
        check_is_fitted(self, "networks_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

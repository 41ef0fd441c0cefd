"""sparsenet: an autograd-free sparse neural-network engine and DeepMetabolism on it."""

import os

# Numba's OpenMP threads spin at every barrier by default. Fine-tuning is thousands of small steps,
# each a dozen parallel regions; when another process wants the same cores, a spinning thread holds
# its core while the thread it waits for is descheduled. Measured on 2 cores (5 networks, 1,500 steps,
# batch 140): spinning 1.2 s alone but 94 s beside one other busy 2-thread process; passive 2.2 s
# alone and 2.1 s beside it. Read when OpenMP starts (first parallel kernel), so it is set here;
# OMP_WAIT_POLICY=ACTIVE in the environment takes the faster, fragile setting back.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .engine import (
    Activation,
    Adam,
    DenseLinear,
    Dropout,
    Layer,
    MaskedLinear,
    OneToOne,
    ReLU,
    Sequential,
    Sigmoid,
    Softplus,
    Tanh,
    binary_cross_entropy_with_logits,
    mean_squared_error,
    scaled_squared_error,
    softmax_cross_entropy,
    softplus_scaled_squared_error,
    sum_abs_relative_error,
    sum_squared_error,
)

from .version import __version__ as __version__


def __getattr__(name):  # the estimators import scikit-learn: only when asked for
    if name == "SparseNetClassifier":
        from . import classifier

        return classifier.SparseNetClassifier
    if name in ("SparseNetRegressor", "SparseNetRegressorCV"):
        from . import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'sparsenet' has no attribute {name!r}")


__all__ = [
    "Activation",
    "Adam",
    "DenseLinear",
    "Dropout",
    "Layer",
    "MaskedLinear",
    "OneToOne",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softplus",
    "Tanh",
    "binary_cross_entropy_with_logits",
    "mean_squared_error",
    "scaled_squared_error",
    "softmax_cross_entropy",
    "softplus_scaled_squared_error",
    "sum_abs_relative_error",
    "sum_squared_error",
    "SparseNetClassifier",
    "SparseNetRegressor",
    "SparseNetRegressorCV",
]

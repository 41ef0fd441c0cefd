"""sparsenet: an autograd-free sparse neural-network engine and DeepMetabolism on it."""
from .engine import (Activation, Adam, DenseLinear, Layer, MaskedLinear, OneToOne, ReLU, Sequential, Sigmoid,
                     Softplus, Tanh, binary_cross_entropy_with_logits, mean_squared_error, scaled_squared_error,
                     softplus_scaled_squared_error, sum_abs_relative_error, sum_squared_error)

__version__ = "0.1.0"


def __getattr__(name):  # the estimators import scikit-learn: only when asked for
    if name in ("SparseNetRegressor", "SparseNetRegressorCV"):
        from . import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'sparsenet' has no attribute {name!r}")
__all__ = ["Activation", "Adam", "DenseLinear", "Layer", "MaskedLinear", "OneToOne", "ReLU", "Sequential",
           "Sigmoid", "Softplus", "Tanh", "binary_cross_entropy_with_logits", "mean_squared_error",
           "scaled_squared_error", "softplus_scaled_squared_error", "sum_abs_relative_error", "sum_squared_error",
           "SparseNetRegressor", "SparseNetRegressorCV"]

"""sparsenet: an autograd-free sparse neural-network engine and DeepMetabolism on it."""
from .engine import (Adam, DenseLinear, MaskedLinear, OneToOne, Sequential, Softplus,
                     scaled_squared_error, softplus_scaled_squared_error, sum_abs_relative_error, sum_squared_error)

__version__ = "0.1.0"
__all__ = ["Adam", "DenseLinear", "MaskedLinear", "OneToOne", "Sequential", "Softplus",
           "scaled_squared_error", "softplus_scaled_squared_error", "sum_abs_relative_error", "sum_squared_error"]

"""The autograd-free sparse engine: layers with explicit forward/backward, losses, Adam."""
from .adam import Adam
from .dense_linear import DenseLinear
from .losses import scaled_squared_error, softplus_scaled_squared_error, sum_abs_relative_error, sum_squared_error
from .masked_linear import MaskedLinear
from .one_to_one import OneToOne
from .sequential import Sequential
from .softplus import Softplus

__all__ = ["Adam", "DenseLinear", "MaskedLinear", "OneToOne", "Sequential", "Softplus",
           "scaled_squared_error", "softplus_scaled_squared_error", "sum_abs_relative_error", "sum_squared_error"]

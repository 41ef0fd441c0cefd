"""The autograd-free sparse engine: layers with explicit forward/backward, losses, Adam."""

from .activations import Activation, ReLU, Sigmoid, Softplus, Tanh
from .adam import Adam
from .dense_linear import DenseLinear
from .dropout import Dropout
from .layer import Layer
from .losses import (
    binary_cross_entropy_with_logits,
    mean_squared_error,
    scaled_squared_error,
    softmax_cross_entropy,
    softplus_scaled_squared_error,
    sum_abs_relative_error,
    sum_squared_error,
)
from .masked_linear import MaskedLinear
from .one_to_one import OneToOne
from .sequential import Sequential

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
]

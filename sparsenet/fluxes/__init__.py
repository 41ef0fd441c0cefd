"""The metabolic model as a model: per-sample fluxes from expression (E-Flux), beside the networks that use
the model only as a graph. Knows cobra, never CUDA."""

from .eflux import EFlux, EFluxSettings, FluxResult, eflux, training_maxima
from .gpr import Activities, reaction_activities

__all__ = ["Activities", "reaction_activities", "EFlux", "EFluxSettings", "FluxResult", "eflux", "training_maxima"]

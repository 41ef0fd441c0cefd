"""E-Flux (Colijn et al. 2009): each sample's reaction activities, scaled per reaction by its largest value
over the training samples, become flux bounds (|v| <= ``scale`` x activity); the model then maximises its
objective (biomass: the predicted growth), and parsimonious FBA (the least total flux at that optimum) makes
the flux vector unique (Lewis et al. 2010). The medium is the model's own (iJO1366: glucose minimal) with
the glucose uptake opened (``uptake_bound``), so expression, not the uptake, limits growth.

Two solver problems are built once (the FBA and the pFBA one) and only variable bounds change per sample:
all 278 PRECISE samples, pFBA included, take ~10 s with GLPK on 2 cores (``benchmarks/eflux_speed.py``). A
sample whose problem is not optimal is counted and named by its status, with NaN growth and fluxes, never
a silent zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gpr import Activities


@dataclass(frozen=True)
class EFluxSettings:
    objective: str | None = None  # a reaction ID; None: the model's own objective (iJO1366: its core biomass)
    uptake: str | None = "EX_glc__D_e"  # the carbon uptake opened to ``uptake_bound`` (None: left as it is)
    uptake_bound: float = -1000.0
    scale: float = 1000.0  # |v| <= scale x (activity / the reaction's training maximum)
    pfba: bool = True  # also the parsimonious flux vector at the optimum
    optimum_fraction: float = 1.0 - 1e-6  # pFBA keeps the objective at this share of its optimum
    time_limit: int = 60  # whole seconds a solve may take (a solve takes ~13 ms; one that does not end, seen once
    # on a gene-permuted PRECISE sample with GLPK, becomes a counted 'time_limit' instead of a hang)


@dataclass(frozen=True)
class FluxResult:
    """Per sample: the objective's optimum (growth), the pFBA fluxes of every reaction (``reaction_ids``; None
    without pFBA) and the solver's status ('optimal' or why not)."""

    growth: np.ndarray
    fluxes: np.ndarray | None
    reaction_ids: list
    status: list

    @property
    def failed(self) -> dict:
        """{status: count} of the samples that were not solved to optimality."""
        out = {}
        for s in self.status:
            if s != "optimal":
                out[s] = out.get(s, 0) + 1
        return out


def training_maxima(activities: Activities, train_rows) -> np.ndarray:
    """Each reaction's largest activity over the training samples ``train_rows`` only (1 where it is 0): the
    scale a held-out sample never shapes."""
    top = np.asarray(activities.values)[np.asarray(train_rows)].max(axis=0)
    return np.where(top > 0, top, 1.0)


@dataclass(frozen=True)
class _Limits:
    model: object
    variables: list
    lower: np.ndarray
    upper: np.ndarray
    columns: list | None  # GLPK's column of each variable, where the solver is GLPK


class EFlux:
    """The FBA and pFBA problems of a cobra ``model`` (copied; the caller's is left alone), ready to solve one
    sample after another with ``activities``' reactions bounded."""

    def __init__(self, model, reaction_ids, settings: EFluxSettings = EFluxSettings()):
        self.settings = settings
        self.fba = model.copy()
        if settings.uptake is not None:
            self.fba.reactions.get_by_id(settings.uptake).lower_bound = settings.uptake_bound
        if settings.objective is not None:
            self.fba.objective = settings.objective
        objective = [r for r in self.fba.reactions if r.objective_coefficient != 0]
        if len(objective) != 1:
            raise ValueError(f"E-Flux: one objective reaction expected, the model has {len(objective)}")
        self.objective_id = objective[0].id
        self.fba.solver.configuration.timeout = settings.time_limit
        self.reaction_ids = [r.id for r in self.fba.reactions]
        self._fba_limits = self._limits(self.fba, reaction_ids)
        self.pfba = None
        if settings.pfba:
            self.pfba = self.fba.copy()
            self.pfba.solver.configuration.timeout = settings.time_limit
            variables = [v for r in self.pfba.reactions for v in (r.forward_variable, r.reverse_variable)]
            self.pfba.objective = self.pfba.problem.Objective(0, direction="min")
            self.pfba.objective.set_linear_coefficients({v: 1.0 for v in variables})
            self._pfba_limits = self._limits(self.pfba, reaction_ids)
            self._pfba_objective = self.pfba.reactions.get_by_id(self.objective_id)
            self._directions = [(r.forward_variable.name, r.reverse_variable.name) for r in self.pfba.reactions]

    @staticmethod
    def _limits(model, reaction_ids) -> _Limits:
        """Each constrained reaction's forward and reverse variable with their lower and (the model's) upper
        bounds."""
        variables, lower, upper = [], [], []
        for rid in reaction_ids:
            r = model.reactions.get_by_id(rid)
            for v, top in (
                (r.forward_variable, max(0.0, r.upper_bound)),
                (r.reverse_variable, max(0.0, -r.lower_bound)),
            ):
                variables.append(v)
                lower.append(v.lb)
                upper.append(top)
        columns = None
        if model.solver.interface.__name__ == "optlang.glpk_interface":
            import swiglpk

            columns = [swiglpk.glp_find_col(model.solver.problem, v.name) for v in variables]
        return _Limits(model, variables, np.array(lower, dtype=np.float64), np.array(upper, dtype=np.float64), columns)

    @staticmethod
    def _bound(limits: _Limits, caps) -> None:
        """Upper bounds min(the model's, cap) on both directions of each constrained reaction; a flux the model
        forces (lb > 0) stays forced."""
        ub = np.maximum(limits.lower, np.minimum(limits.upper, np.repeat(caps, 2)))
        if limits.columns is None:
            for v, value in zip(limits.variables, ub, strict=True):
                v.ub = float(value)
            return
        # GLPK: straight to the solver (optlang's setter costs ~10 us of Python a bound, 4,000 bounds a sample);
        # the types as optlang sets them. These variables are the E-Flux copy's own, never read back through optlang.
        import swiglpk

        problem = limits.model.solver.problem
        for j, lb, value in zip(limits.columns, limits.lower.tolist(), ub.tolist(), strict=True):
            swiglpk.glp_set_col_bnds(problem, j, swiglpk.GLP_FX if lb == value else swiglpk.GLP_DB, lb, value)

    def solve(self, scaled) -> FluxResult:
        """Each row of ``scaled`` (samples x the constrained reactions, activity / training maximum) as one
        sample's bounds: its optimum and (pFBA) its fluxes."""
        scaled = np.asarray(scaled, dtype=np.float64)
        n = scaled.shape[0]
        growth = np.full(n, np.nan)
        fluxes = np.full((n, len(self.reaction_ids)), np.nan) if self.pfba is not None else None
        status = []
        for s in range(n):
            caps = self.settings.scale * np.nan_to_num(scaled[s], nan=np.inf)
            self._bound(self._fba_limits, caps)
            self.fba.solver.optimize()
            st = str(self.fba.solver.status)
            if st == "optimal":
                growth[s] = self.fba.solver.objective.value
                if self.pfba is not None:
                    st = self._parsimonious(caps, growth[s], fluxes, s)
            status.append(st)
        return FluxResult(growth, fluxes, self.reaction_ids, status)

    def _parsimonious(self, caps, optimum, fluxes, s) -> str:
        self._bound(self._pfba_limits, caps)
        keep = self._pfba_objective.forward_variable
        keep.lb = min(keep.ub, optimum * self.settings.optimum_fraction)
        try:
            self.pfba.solver.optimize()
            st = str(self.pfba.solver.status)
            if st == "optimal":
                primal = self.pfba.solver.primal_values
                fluxes[s] = [primal[forward] - primal[reverse] for forward, reverse in self._directions]
            return st if st == "optimal" else f"pfba {st}"
        finally:
            keep.lb = 0.0


def eflux(model, gene_ids, levels, train_rows=None, settings: EFluxSettings = EFluxSettings()) -> FluxResult:
    """E-Flux for every sample of ``levels`` (samples x ``gene_ids``, linear), each reaction scaled by its
    maximum over ``train_rows`` (default: every sample)."""
    from .gpr import reaction_activities

    activities = reaction_activities(model, gene_ids, levels)
    rows = np.arange(len(levels)) if train_rows is None else np.asarray(train_rows)
    scaled = activities.values / training_maxima(activities, rows)
    return EFlux(model, activities.reaction_ids, settings).solve(scaled)

"""The protein->phenotype knockout screen of DeepMetabolism, over any COBRA model.

For each phenotype reaction (every exchange plus the biomass reactions): fix the uptake
reaction's flux, make the phenotype the objective (maximised; the uptake itself minimised),
solve FBA, then knock out each reaction in turn. A reaction is essential for the phenotype
if the knockout is infeasible or |v_KO| <= threshold * |v_orig|. Genes in the rules of its
essential reactions are linked to the phenotype.

Pruning (exact, not a heuristic): a reaction that carries no flux in the reference optimum
can be knocked out without touching that optimal solution, so v_KO = v_orig without solving;
it is then essential exactly when v_orig = 0. Only flux-carrying reactions need an LP. This
holds for zero optima too (there every zero-flux reaction is essential).

Fluxes with |v| below ``zero_tol`` are zero, so results do not change between runs.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
from dataclasses import dataclass, field

from .model_io import ModelError

PSEUDO_GENES = ("s0001",)  # iJO1366's placeholder for spontaneous reactions


@dataclass(frozen=True)
class ScreenSettings:
    uptake: str = "EX_glc__D_e"
    uptake_flux: float = -10.0  # mmol/gDW/h: iJO1366's own glucose bound, the usual FBA setting
    threshold: float = 0.95
    zero_tol: float = 1e-9
    fragile_rel_tol: float = 1e-6
    fragile_below: float = 1e-4  # |optimum| under this (mmol/gDW/h) is solver noise, not a phenotype
    exhaustive: bool = False
    keep_zero_optimum: bool = False  # screen and keep zero-optimum and fragile phenotypes too

    def __post_init__(self):
        if not 0 < self.threshold <= 1:
            raise ValueError(f"--threshold must be in (0, 1], got {self.threshold}")


@dataclass
class PhenotypeResult:
    reaction_id: str
    optimum: float  # flux of the phenotype at the reference optimum (floating-point simplex)
    exact_optimum: float  # the same LP re-solved in exact rational arithmetic (GLPK), nan if unavailable
    status: str  # "ok"; "zero" (optimum 0); "fragile" (simplex and exact disagree, or 0 < |optimum| < fragile_below)
    essential: list[str] = field(default_factory=list)  # essential reaction IDs
    lps: int = 0  # knockout LPs solved


def is_pseudo_gene(gene) -> bool:
    return gene.id in PSEUDO_GENES or "spontaneous" in (gene.name or "").lower()


def phenotype_reactions(model) -> list:
    """Exchange reactions plus biomass reactions, in model order."""
    exchanges = {r.id for r in model.exchanges}
    biomass = [r for r in model.reactions if re.search("biomass", r.id, re.I)]
    if not exchanges:
        raise ModelError(f"model {model.id}: no exchange reactions, so no phenotypes to screen")
    if not biomass:
        raise ModelError(f"model {model.id}: no biomass reaction (no reaction ID contains 'biomass')")
    chosen = exchanges | {r.id for r in biomass}
    return [r for r in model.reactions if r.id in chosen]


def _infeasible(model, s: ScreenSettings) -> ModelError:
    return ModelError(
        f"model {model.id}: infeasible with {s.uptake} fixed at {s.uptake_flux} "
        f"(status {model.solver.status}); check the uptake flux and the model's bounds"
    )


def _clean(v: float, tol: float) -> float:
    return 0.0 if abs(v) < tol else v


def _exact_objective(model) -> float:
    """Re-solve the current LP in exact arithmetic from the current basis (GLPK only)."""
    if "glpk" not in model.solver.interface.__name__:
        return math.nan
    import swiglpk as glp

    prob = model.solver.problem
    parm = glp.glp_smcp()
    glp.glp_init_smcp(parm)
    parm.msg_lev = glp.GLP_MSG_OFF
    if glp.glp_exact(prob, parm) != 0 or glp.glp_get_status(prob) != glp.GLP_OPT:
        return math.nan
    return glp.glp_get_obj_val(prob)


def screen_phenotype(model, phenotype_id: str, s: ScreenSettings) -> PhenotypeResult:
    """Reference FBA and knockout screen of one phenotype (model is left unchanged)."""
    nan = float("nan")
    with model:
        uptake = model.reactions.get_by_id(s.uptake)
        uptake.bounds = (s.uptake_flux, s.uptake_flux)
        target = model.reactions.get_by_id(phenotype_id)
        model.objective = target
        model.objective_direction = "min" if phenotype_id == s.uptake else "max"
        v0 = model.slim_optimize(error_value=nan)
        if math.isnan(v0):
            raise _infeasible(model, s)
        primal = model.solver.primal_values
        fluxes = {r.id: _clean(primal[r.id] - primal[r.reverse_id], s.zero_tol) for r in model.reactions}
        v0 = _clean(v0, s.zero_tol)
        exact = _exact_objective(model)
        exact_c = _clean(exact, s.zero_tol) if not math.isnan(exact) else nan
        disagree = not math.isnan(exact_c) and abs(exact_c - v0) > s.fragile_rel_tol * max(1.0, abs(exact_c))
        fragile = disagree or 0 < abs(v0) < s.fragile_below
        status = "fragile" if fragile else ("zero" if v0 == 0 else "ok")
        result = PhenotypeResult(phenotype_id, v0, exact, status)
        if status != "ok" and not s.keep_zero_optimum:
            return result  # dropped from the mask: no knockouts needed
        limit = s.threshold * abs(v0)
        for r in model.reactions:
            if not s.exhaustive and fluxes[r.id] == 0:
                essential = v0 == 0  # unchanged optimum: essential only if it is zero
            else:
                fv, rv = r.forward_variable, r.reverse_variable
                saved = (fv.lb, fv.ub, rv.lb, rv.ub)
                fv.set_bounds(0, 0)
                rv.set_bounds(0, 0)
                v = model.slim_optimize(error_value=nan)
                fv.set_bounds(saved[0], saved[1])
                rv.set_bounds(saved[2], saved[3])
                result.lps += 1
                essential = math.isnan(v) or abs(_clean(v, s.zero_tol)) <= limit
            if essential:
                result.essential.append(r.id)
    return result


# ------------------------------------------------------------------ parallel screen
_WORKER = {}


def _worker_screen(phenotype_id):
    return screen_phenotype(_WORKER["model"], phenotype_id, _WORKER["settings"])


def screen(
    model, settings: ScreenSettings, phenotype_ids=None, processes: int | None = None, progress=None
) -> list[PhenotypeResult]:
    """Screen phenotypes (default: all), in parallel processes where ``fork`` exists.

    ``progress(done, total)`` is called after each phenotype. Results are in input order.
    """
    if settings.uptake not in model.reactions:
        raise ModelError(
            f"model {model.id}: uptake reaction {settings.uptake!r} does not exist; "
            f"pass --uptake with one of its exchange reactions"
        )
    ids = [r.id for r in phenotype_reactions(model)] if phenotype_ids is None else list(phenotype_ids)
    # check the base model once, with a clear message, before any worker starts
    with model:
        model.reactions.get_by_id(settings.uptake).bounds = (settings.uptake_flux, settings.uptake_flux)
        if math.isnan(model.slim_optimize(error_value=float("nan"))):
            raise _infeasible(model, settings)
    processes = processes or min(len(ids), os.cpu_count() or 1)
    results = {}
    if processes > 1 and "fork" in multiprocessing.get_all_start_methods():
        _WORKER.update(model=model, settings=settings)
        try:
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                for r in pool.imap_unordered(_worker_screen, ids, chunksize=1):
                    results[r.reaction_id] = r
                    if progress:
                        progress(len(results), len(ids))
        finally:
            _WORKER.clear()
    else:
        for pid in ids:
            results[pid] = screen_phenotype(model, pid, settings)
            if progress:
                progress(len(results), len(ids))
    return [results[i] for i in ids]

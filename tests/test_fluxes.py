"""sparsenet.fluxes: reaction activities through the gene-protein-reaction rules (AND -> min, OR -> sum) and
E-Flux on the e_coli_core model: fully expressed it is plain FBA, less expression of a needed enzyme lowers
growth, a held-out sample never shapes the scaling, pFBA's fluxes reach the optimum with less total flux."""
import cobra
import numpy as np
import pytest

from sparsenet.fluxes import EFluxSettings, eflux, reaction_activities, training_maxima
from sparsenet.masks.model_io import load_model


@pytest.fixture(scope="module")
def core():
    return load_model("e_coli_core")[0]


def test_and_is_the_least_subunit_or_is_the_sum_and_unmeasured_genes_take_no_part():
    model = cobra.Model("rules")
    for rid, rule in (("COMPLEX", "a and b"), ("ISOZYMES", "a or c"), ("BOTH", "(a and b) or c"),
                      ("UNMEASURED", "z"), ("NO_RULE", ""), ("PARTLY", "a and z")):
        r = cobra.Reaction(rid)
        model.add_reactions([r])
        r.gene_reaction_rule = rule
    levels = np.array([[1.0, 5.0, 2.0], [4.0, 3.0, 0.5]])  # genes a, b, c
    act = reaction_activities(model, ["a", "b", "c"], levels)
    got = dict(zip(act.reaction_ids, act.values.T))
    assert set(got) == {"COMPLEX", "ISOZYMES", "BOTH", "PARTLY"}  # no rule, or no measured gene: unconstrained
    np.testing.assert_array_equal(got["COMPLEX"], [1.0, 3.0])
    np.testing.assert_array_equal(got["ISOZYMES"], [3.0, 4.5])
    np.testing.assert_array_equal(got["BOTH"], [3.0, 3.5])
    np.testing.assert_array_equal(got["PARTLY"], [1.0, 4.0])
    with pytest.raises(ValueError, match="linear expression"):
        reaction_activities(model, ["a", "b", "c"], -levels)


def test_fully_expressed_eflux_is_fba_and_less_of_a_needed_enzyme_grows_less(core):
    genes = [g.id for g in core.genes]
    levels = np.full((3, len(genes)), 50.0)
    pgk = genes.index(next(iter(core.reactions.PGK.genes)).id)  # glycolysis' phosphoglycerate kinase
    levels[1, pgk] = 5.0
    levels[2, pgk] = 0.5
    result = eflux(core, genes, levels, train_rows=[0])
    with core:
        core.reactions.EX_glc__D_e.lower_bound = -1000
        fba = core.slim_optimize()
    assert result.status == ["optimal"] * 3 and result.failed == {}
    assert result.growth[0] == pytest.approx(fba, rel=1e-6)
    assert result.growth[0] > result.growth[1] > result.growth[2]
    # pFBA: the same optimum with every flux in the model, and less total flux than plain FBA's vector
    ids = result.reaction_ids
    biomass = ids.index("Biomass_Ecoli_core")
    np.testing.assert_allclose(result.fluxes[:, biomass], result.growth, rtol=1e-5)
    with core:
        core.reactions.EX_glc__D_e.lower_bound = -1000
        plain = core.optimize().fluxes
    assert np.abs(result.fluxes[0]).sum() <= np.abs(plain.values).sum() + 1e-6


def test_a_held_out_sample_never_shapes_the_scaling(core):
    genes = [g.id for g in core.genes]
    rng = np.random.default_rng(2)
    levels = rng.uniform(1, 100, size=(6, len(genes)))
    train = [0, 1, 2, 3]
    first = eflux(core, genes, levels, train_rows=train, settings=EFluxSettings(pfba=False))
    moved = levels.copy()
    moved[5] *= 50  # a held-out sample's expression changes ...
    second = eflux(core, genes, moved, train_rows=train, settings=EFluxSettings(pfba=False))
    np.testing.assert_array_equal(first.growth[:5], second.growth[:5])  # ... and no other sample moves
    act = reaction_activities(core, genes, levels)
    np.testing.assert_array_equal(training_maxima(act, train), act.values[train].max(axis=0))
    # and a training sample's change does move the others (the test can fail)
    moved[0] *= 50
    third = eflux(core, genes, moved, train_rows=train, settings=EFluxSettings(pfba=False))
    assert not np.allclose(first.growth[1:4], third.growth[1:4])


def test_eflux_baseline_is_a_line_fitted_on_training_samples_only():
    from sparsenet.fluxes.baselines import fit_predict
    from sparsenet.fluxes.eflux import FluxResult

    growth = np.array([0.1, 0.2, 0.3, 0.4, 0.9, np.nan])
    result = FluxResult(growth, None, [], ["optimal"] * 5 + ["infeasible"])
    y = np.array([[1.0], [1.5], [2.0], [2.5]])
    pred = fit_predict("eflux", result, [0, 1, 2, 3], [4, 5], y, None, 0)
    np.testing.assert_allclose(pred[:, 0], [1.0 + 5 * 0.8, 1.0 + 5 * 0.15])  # y = 0.5 + 5 g; a failed solve: mean g
    moved = FluxResult(np.array([0.1, 0.2, 0.3, 0.4, 5.0, np.nan]), None, [], result.status)
    np.testing.assert_allclose(fit_predict("eflux", moved, [0, 1, 2, 3], [5], y, None, 0), pred[1:])


def test_flux_baselines_run_on_a_folds_training_samples_and_leave_its_scaling_to_them(tmp_path):
    """Through the runner, on the synthetic data and the e_coli_core masks: every flux baseline predicts each
    held-out sample; the fold's E-Flux is scaled on its training samples, so a held-out sample's expression
    leaves every training sample's growth and fluxes as they were."""
    from conftest import core_dataset
    from sparsenet.evaluation.config import build_config
    from sparsenet.evaluation.crossval import Runner
    from sparsenet.evaluation.folds import make_folds

    ds = core_dataset(tmp_path)
    cfg = build_config("default", strategy="B", cv="grouped", folds=3, seed=1, max_steps=20, ensemble=1,
                       baselines="eflux,flux_ridge,flux_forest", final_model=False)
    assert "eflux" not in build_config("default", baselines="all").baselines  # asked for by name only
    results = Runner(ds, cfg, tmp_path / "run").run().results
    for name in ("eflux", "flux_ridge", "flux_forest"):
        records = results[("grouped", f"baseline:{name}", 0)]
        assert sum(len(r["test"]) for r in records) == ds.labelled.size
        assert all(np.isfinite(r["predicted"]).all() for r in records)
    test = make_folds(ds, "grouped", 3, 1)[0]
    train = np.setdiff1d(np.arange(ds.labelled.size), test)
    runner = Runner(ds, cfg, tmp_path / "again")
    before = runner.fold_fluxes(train, test)
    take = ds.inputs.expr.take

    def louder(rows):  # every held-out sample's expression raised tenfold (log2 + 3.3)
        values = take(rows).copy()
        values[np.isin(rows, ds.labelled[test])] += 3.3
        return values

    ds.inputs.expr.take = louder
    try:
        after = Runner(ds, cfg, tmp_path / "moved").fold_fluxes(train, test)
    finally:
        del ds.inputs.expr.take
    n = len(train)
    np.testing.assert_array_equal(before.growth[:n], after.growth[:n])
    np.testing.assert_array_equal(before.fluxes[:n], after.fluxes[:n])
    assert not np.allclose(before.growth[n:], after.growth[n:])  # the held-out samples themselves did move

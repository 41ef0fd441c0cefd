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
    for rid, rule in (
        ("COMPLEX", "a and b"),
        ("ISOZYMES", "a or c"),
        ("BOTH", "(a and b) or c"),
        ("UNMEASURED", "z"),
        ("NO_RULE", ""),
        ("PARTLY", "a and z"),
    ):
        r = cobra.Reaction(rid)
        model.add_reactions([r])
        r.gene_reaction_rule = rule
    levels = np.array([[1.0, 5.0, 2.0], [4.0, 3.0, 0.5]])  # genes a, b, c
    act = reaction_activities(model, ["a", "b", "c"], levels)
    got = dict(zip(act.reaction_ids, act.values.T, strict=True))
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
    from sparsenet.runs.flux_baselines import fit_predict
    from sparsenet.fluxes.eflux import FluxResult

    growth = np.array([0.1, 0.2, 0.3, 0.4, 0.9, np.nan])
    result = FluxResult(growth, None, [], ["optimal"] * 5 + ["infeasible"])
    y = np.array([[1.0], [1.5], [2.0], [2.5]])
    pred = fit_predict("eflux", result, [0, 1, 2, 3], [4, 5], y, None, 0)
    np.testing.assert_allclose(pred[:, 0], [1.0 + 5 * 0.8, 1.0 + 5 * 0.15])  # y = 0.5 + 5 g; a failed solve: mean g
    moved = FluxResult(np.array([0.1, 0.2, 0.3, 0.4, 5.0, np.nan]), None, [], result.status)
    np.testing.assert_allclose(fit_predict("eflux", moved, [0, 1, 2, 3], [5], y, None, 0), pred[1:])


def test_a_flux_round_off_leaves_varying_in_training_cannot_blow_up_ridge_and_leaves_the_forest_as_it_was():
    """Seen on PRECISE (a gene-permuted draw): pyruvate kinase carried 0 +- 1e-9 in every training sample and
    1.04 in two held-out ones, 1e10 training sds out, and flux_ridge predicted growth 5e5. Held-out fluxes are
    clipped to the training range: ridge's predictions stay within reach of the training phenotypes, and the
    forest's are the unclipped ones (its thresholds lie inside that range)."""
    from sparsenet.runs import baselines
    from sparsenet.runs.flux_baselines import fit_predict
    from sparsenet.fluxes.eflux import FluxResult

    rng = np.random.default_rng(3)
    n_train, n_test = 30, 6
    signal = rng.normal(size=n_train + n_test)
    fluxes = np.column_stack(
        [signal, rng.normal(size=n_train + n_test), np.r_[rng.normal(scale=1e-9, size=n_train), np.full(n_test, 1.04)]]
    )
    fluxes[n_train:, 0] = np.linspace(-8, 8, n_test)  # far beyond the training range too
    y = (1.0 + 0.2 * signal[:n_train] + 0.01 * rng.normal(size=n_train))[:, None]
    result = FluxResult(np.ones(n_train + n_test), fluxes, [], ["optimal"] * (n_train + n_test))
    train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    ridge = fit_predict("flux_ridge", result, train, test, y, None, 0)
    assert np.all(np.abs(ridge - y.mean()) < 5 * np.ptp(y))
    forest = fit_predict("flux_forest", result, train, test, y, None, 0)
    unclipped = baselines.fit_predict("random_forest", fluxes[train], y, None, fluxes[test], 0)
    np.testing.assert_array_equal(forest, unclipped)
    # without the clip ridge would have gone far out (the test can fail)
    fitted = baselines.fit_predict("ridge", fluxes[train], y, None, fluxes[test], 0)
    assert np.abs(fitted - y.mean()).max() > 5 * np.ptp(y)


def test_flux_baselines_run_on_a_folds_training_samples_and_leave_its_scaling_to_them(tmp_path):
    """Through the runner, on the synthetic data and the e_coli_core masks: every flux baseline predicts each
    held-out sample; the fold's E-Flux is scaled on its training samples, so a held-out sample's expression
    leaves every training sample's growth and fluxes as they were."""
    from conftest import core_dataset
    from sparsenet.config.run_config import build_config
    from sparsenet.runs.crossval import Runner
    from sparsenet.runs.folds import make_folds

    ds = core_dataset(tmp_path)
    cfg = build_config(
        "default",
        strategy="B",
        cv="grouped",
        folds=3,
        seed=1,
        max_steps=20,
        ensemble=1,
        baselines="eflux,flux_ridge,flux_forest",
        final_model=False,
    )
    assert "eflux" not in build_config("default", baselines="all").baselines  # asked for by name only
    results = Runner(ds, cfg, tmp_path / "run").run().results
    for name in ("eflux", "flux_ridge", "flux_forest"):
        records = results[("grouped", f"baseline:{name}", 0)]
        assert sum(len(r.test) for r in records) == ds.labelled.size
        assert all(np.isfinite(r.predicted).all() for r in records)
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


def test_glpk_bounds_set_straight_match_optlangs_own(core):
    """The GLPK fast path (bounds through swiglpk) gives the growth and pFBA fluxes optlang's setters give."""
    from sparsenet.fluxes import EFlux

    genes = [g.id for g in core.genes]
    levels = np.random.default_rng(3).uniform(1.0, 60.0, (6, len(genes)))
    act = reaction_activities(core, genes, levels)
    scaled = act.values / training_maxima(act, np.arange(6))
    fast = EFlux(core, act.reaction_ids)
    assert fast._fba_limits.columns is not None  # the solver here is GLPK: the fast path is what runs
    slow = EFlux(core, act.reaction_ids)
    for name in ("_fba_limits", "_pfba_limits"):
        limits = getattr(slow, name)
        setattr(slow, name, type(limits)(**{**limits.__dict__, "columns": None}))
    a, b = fast.solve(scaled), slow.solve(scaled)
    assert a.status == b.status == ["optimal"] * 6
    np.testing.assert_allclose(a.growth, b.growth, rtol=1e-9)
    np.testing.assert_allclose(a.fluxes, b.fluxes, atol=1e-7)
    assert np.ptp(a.growth) > 0  # the samples' bounds did differ


def test_flux_null_draw_zero_is_trains_flux_baselines_and_permuted_draws_differ(tmp_path):
    """control --predictor flux: its draw 0 (the real gene labels) predicts exactly what train's flux baselines
    predict on the same folds; permuted draws predict otherwise; a resumed run solves nothing again."""
    from conftest import core_dataset
    from sparsenet.config.run_config import build_config
    from sparsenet.runs.crossval import Runner
    from sparsenet.studies import StudyData, flux_control
    from sparsenet.training.checkpoint import mask_fingerprint

    ds = core_dataset(tmp_path)
    data = StudyData(ds, {"file": "core", "fingerprint": mask_fingerprint(ds.masks)})
    result = flux_control(data, tmp_path / "null", scheme="grouped", folds=3, seed=1, draws=2)
    cfg = build_config(
        "default",
        strategy="B",
        cv="grouped",
        folds=3,
        seed=1,
        max_steps=5,
        ensemble=1,
        baselines="eflux,flux_ridge,flux_forest",
        final_model=False,
    )
    runner = Runner(ds, cfg, tmp_path / "run")
    draws = [dict(np.load(tmp_path / "null" / "state" / "flux-draws" / f"{d:03d}.npz")) for d in range(3)]
    from sparsenet.runs.folds import make_folds
    from sparsenet.config.model_keys import baseline

    for name in ("eflux", "flux_ridge", "flux_forest"):
        for test in make_folds(ds, "grouped", 3, 1):
            train = np.setdiff1d(np.arange(ds.labelled.size), test)
            rec = runner.baseline_fold(baseline(name), train, test, 1, name)
            np.testing.assert_allclose(draws[0][name][test], rec.predicted, rtol=1e-12)
        assert not np.allclose(draws[1][name], draws[0][name])
        entry = result.report["flux_control"]["predictors"][name]["phenotypes"][ds.target_columns[0]]["pearson_r"]
        assert entry["draws"] == 2 and len(entry["null_values"]) == 2
    stamps = [p.stat().st_mtime_ns for p in sorted((tmp_path / "null" / "state" / "flux-draws").iterdir())]
    again = flux_control(data, tmp_path / "null", scheme="grouped", folds=3, seed=1, draws=2, resume=True)
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "null" / "state" / "flux-draws").iterdir())] == stamps
    assert again.report["flux_control"]["predictors"] == result.report["flux_control"]["predictors"]


def test_flux_control_refuses_network_options_by_name(tmp_path):
    """control --predictor flux trains no network: --l2 and --ensemble given there are named, not ignored; the
    data options (--masks, --reference) and the folds' options are its own."""
    from conftest import CORE_MASKS, one_line_error, sparsenet
    from synthetic import write_dataset

    expr, phen, _ = write_dataset(tmp_path / "data")
    bad = sparsenet(
        "control",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        "--masks",
        CORE_MASKS,
        "--reference",
        "ref_1,ref_2",
        "--folds",
        "3",
        "--predictor",
        "flux",
        "--l2",
        "0.1",
        "--ensemble",
        "2",
        "--out",
        tmp_path / "bad",
    )
    one_line_error(bad, "--l2, --ensemble: control --predictor flux trains no network")
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_flux_control_recorded_is_what_train_says(tmp_path):
    """control --predictor flux on the synthetic data: a wrong --null is one line; the run's p-values, recorded,
    are what the statement train prints for each flux baseline says."""
    from conftest import FAST, one_line_error, sparsenet, without
    from synthetic import write_dataset
    from sparsenet.report.evidence import flux_statement, record_flux

    expr, phen, _ = write_dataset(tmp_path / "data")
    args = without(FAST, "--max-steps", "--pretrain-samples", "--batch", "--pretrain-lr", "--finetune-lr", "--device")
    bad = sparsenet(
        "control",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *args,
        "--predictor",
        "flux",
        "--null",
        "edges",
        "--out",
        tmp_path / "bad",
    )
    one_line_error(bad, "with --predictor flux the null is genes")
    assert not (tmp_path / "bad").exists()
    out = tmp_path / "null"
    proc = sparsenet(
        "control",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *args,
        "--predictor",
        "flux",
        "--draws",
        "3",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    assert "flux_forest" in proc.stdout and "r within projects" in proc.stdout
    from conftest import assert_page

    assert_page(out, ["run", "checks", "control", "files"])
    report = __import__("json").loads((out / "report.json").read_text())
    fingerprint, evidence = report["masks"]["fingerprint"], tmp_path / "controls.json"
    assert "not tested" in flux_statement(fingerprint, "flux_forest", evidence)
    entry = record_flux(out, "synthetic", evidence)
    p = entry["predictors"]["flux_forest"]["pearson_r"]["p"]
    said = flux_statement(fingerprint, "flux_forest", evidence)
    assert f"synthetic: p = {p:.3f} (3 draws)" in said
    assert ("beyond its gene-permutation null" in said) == (p < 0.05)


@pytest.mark.slow
def test_flux_null_draws_fanned_out_to_dask_equal_the_serial_ones(tmp_path):
    from conftest import core_dataset
    from sparsenet.runs.plan import Executor
    from sparsenet.studies import StudyData, flux_control
    from sparsenet.training.checkpoint import mask_fingerprint

    ds = core_dataset(tmp_path)
    data = StudyData(ds, {"file": "core", "fingerprint": mask_fingerprint(ds.masks)})
    serial = flux_control(data, tmp_path / "serial", folds=3, seed=2, draws=2, predictors=("eflux", "flux_ridge"))
    with Executor(workers=2) as executor:
        fanned = flux_control(
            data, tmp_path / "dask", folds=3, seed=2, draws=2, predictors=("eflux", "flux_ridge"), executor=executor
        )
    for d in range(3):
        a = np.load(tmp_path / "serial" / "state" / "flux-draws" / f"{d:03d}.npz")
        b = np.load(tmp_path / "dask" / "state" / "flux-draws" / f"{d:03d}.npz")
        for name in ("eflux", "flux_ridge"):
            np.testing.assert_array_equal(a[name], b[name])
    assert fanned.report["flux_control"]["predictors"] == serial.report["flux_control"]["predictors"]


def test_every_solve_has_a_time_limit(core):
    """A solve that does not end becomes a counted status, never a hang: both problems carry the limit."""
    from sparsenet.fluxes import EFlux

    genes = [g.id for g in core.genes]
    act = reaction_activities(core, genes, np.full((1, len(genes)), 10.0))
    solver = EFlux(core, act.reaction_ids, EFluxSettings(time_limit=7))
    assert solver.fba.solver.configuration.timeout == 7 and solver.pfba.solver.configuration.timeout == 7
    assert EFlux(core, act.reaction_ids).fba.solver.configuration.timeout == EFluxSettings().time_limit

"""Learning curves: subsets are drawn from each fold's training samples only (whole projects or at random),
the same for every model; no held-out sample, labelled or not, reaches pre-training or a subset; and
`sparsenet curve` reports every model per label count with C - B paired draw by draw."""

import json

import numpy as np
import pytest

from sparsenet.data.dataset import load_dataset
from sparsenet.data.spec import DataSpec
from sparsenet.runs import crossval
from sparsenet.config.run_config import build_config
from sparsenet.runs.crossval import Runner
from sparsenet.runs.folds import make_folds
from sparsenet.config.choices import parse_labels
from sparsenet.stats.curves import subsets

from synthetic import core_masks, write_dataset
from conftest import FAST, assert_page, sparsenet, without

pytestmark = pytest.mark.slow  # whole learning-curve runs


def test_subsets_are_drawn_from_the_training_samples_as_asked():
    groups = ["a"] * 5 + ["b"] * 7 + ["c"] * 4 + ["d"] * 9
    out = subsets(groups, [6, 10, "all"], draws=3, kinds=["projects", "random"], seed=1, fold=2)
    assert [(n, k, d) for n, k, d, _ in out][:4] == [
        (6, "projects", 0),
        (6, "projects", 1),
        (6, "projects", 2),
        (6, "random", 0),
    ]
    g = np.array(groups)
    for n, kind, _draw, mask in out:
        assert mask.shape == (len(groups),) and mask.sum() == (len(groups) if n == "all" else n)
        if kind == "projects":  # whole projects, only the last one cut
            partial = [x for x in set(g[mask]) if (g[mask] == x).sum() < (g == x).sum()]
            assert len(partial) <= 1
    again = subsets(groups, [6, 10, "all"], draws=3, kinds=["projects", "random"], seed=1, fold=2)
    assert all(np.array_equal(a[3], b[3]) for a, b in zip(out, again, strict=True))  # seeded: every model gets these
    assert not np.array_equal(out[0][3], out[1][3])  # draws differ
    assert parse_labels("10, 20,all,20") == [10, 20, "all"]
    with pytest.raises(ValueError, match="'ten' is not a number"):
        parse_labels("ten")


def test_no_held_out_sample_reaches_pre_training_or_a_subset(tmp_path, monkeypatch):
    expr, phen, _ = write_dataset(tmp_path / "data")
    ds = load_dataset(core_masks(), DataSpec(expr, phen, ["ref_1", "ref_2"], group_by="project"), read_out=True)
    cfg = build_config(
        "default",
        strategy="C",
        cv="grouped",
        folds=3,
        seed=1,
        max_steps=20,
        ensemble=1,
        pretrain_samples=400,
        batch=100,
        curve={"labels": [5, "all"], "draws": 2, "kinds": ["projects", "random"], "seed": 1},
    )
    seen = []
    real_fit, real_pretrained = crossval.fit_networks, Runner.pretrained

    def spy_fit(spec, wirings, xt, y, *args, subsets=None, **kw):
        seen.append(("fit", len(y), None if subsets is None else [np.asarray(s).size for s in subsets]))
        return real_fit(spec, wirings, xt, y, *args, subsets=subsets, **kw)

    def spy_pretrained(self, rows, transform, seed, label, masks=None):
        seen.append(("pool", {self.pool.sample_ids[r] for r in rows}))
        return real_pretrained(self, rows, transform, seed, label, masks)

    monkeypatch.setattr(crossval, "fit_networks", spy_fit)
    monkeypatch.setattr(Runner, "pretrained", spy_pretrained)
    runner = Runner(ds, cfg, tmp_path / "run")
    folds = make_folds(ds, "grouped", 3, 1)
    for f, test in enumerate(folds):
        seen.clear()
        rec = runner.run_fold("grouped", "curve:C", f, test)
        held_out = {ds.labelled_ids[i] for i in test}
        n_train = ds.labelled.size - test.size
        fits = [s for s in seen if s[0] == "fit"]
        assert fits and all(n == n_train and all(size == n_train for size in sizes) for _, n, sizes in fits)
        pools = [s[1] for s in seen if s[0] == "pool"]
        assert pools and all(not (held_out & pool) for pool in pools)
        assert rec.predicted_subsets.shape[:2] == (1 + 2 * 2, test.size)  # 'all' once, 5 labels x 2 kinds x 2
        assert (rec.subset_sizes <= n_train).all()


def test_curve_command_reports_every_model_and_pairs_c_with_b(tmp_path):
    expr, phen, _ = write_dataset(tmp_path / "data")
    out = tmp_path / "curve"
    args = without(FAST, "--folds", "--max-steps")
    proc = sparsenet(
        "curve",
        "--expression",
        expr,
        "--phenotypes",
        phen,
        *args,
        "--folds",
        "3",
        "--max-steps",
        "40",
        "--labels",
        "8,all",
        "--draws",
        "2",
        "--ensemble",
        "1",
        "--baselines",
        "mean",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    col = "Growth Rate (1/hr)"
    models = report["curve"]["models"]
    assert set(models) == {"B", "C", "baseline:mean", "paper"}
    assert set(models["B"]) == {"8/projects", "8/random", "all/all"}
    assert models["B"]["8/random"]["draws"] == 2 and len(models["B"]["8/random"][col]["pearson_r"]["per_draw"]) == 2
    paired = report["curve"]["paired_against_B"]["C"]["8/projects"]["differences"][col]["pearson_r"]
    c = models["C"]["8/projects"][col]["pearson_r"]["per_draw"]
    b = models["B"]["8/projects"][col]["pearson_r"]["per_draw"]
    assert paired["mean"] == pytest.approx(np.mean(np.subtract(c, b)), abs=2e-6)  # report.json rounds to 6 places
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG" and "C - B at 8/projects" in proc.stdout
    assert_page(out, ["run", "checks", "curve", "files"])
    assert "8/projects" in (out / "report.html").read_text()

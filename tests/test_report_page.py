"""report.html without a browser (the browser test is tests/test_report_html.py, slow): a small train run's
page, read back with the standard library's HTML parser, shows every model of report.json with its r,
% within 20 % and RMSE as report.json holds them, the sections in order, figures inline and nothing to fetch;
a run folder missing a results CSV still gets its page, with a line saying what is missing."""

import json
from html.parser import HTMLParser

import pytest

from conftest import assert_page, core_dataset, training_config


class Cells(HTMLParser):
    """Every <td data-metric> of a <tr data-model data-phenotype>, as (model, phenotype, metric) -> text."""

    def __init__(self):
        super().__init__()
        self.row, self.metric, self.cells = None, None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.row = (attrs["data-model"], attrs["data-phenotype"]) if "data-phenotype" in attrs else None
        elif tag == "td" and self.row and attrs.get("data-metric"):
            self.metric = attrs["data-metric"]
            self.cells[(*self.row, self.metric)] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self.metric = None

    def handle_data(self, data):
        if self.metric:
            self.cells[(*self.row, self.metric)] += data


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from sparsenet.studies import StudyData, train
    from sparsenet.training.checkpoint import mask_fingerprint

    tmp = tmp_path_factory.mktemp("page")
    ds = core_dataset(tmp)
    cfg = training_config(strategies=["B"], cv=["grouped"], seeds=2, ensemble=1, baselines=["mean", "ridge"])
    return train(StudyData(ds, {"file": "core masks", "fingerprint": mask_fingerprint(ds.masks)}), cfg, tmp / "run")


def test_the_page_shows_report_jsons_numbers(run):
    from sparsenet.report.html import number

    assert_page(run.out, ["answer", "accuracy", "wiring", "run", "checks", "curves", "genes", "files"])
    parser = Cells()
    parser.feed((run.out / "report.html").read_text())
    report = json.loads((run.out / "report.json").read_text())
    shown = 0
    for key, res in report["results"].items():
        for col, over in res["over_seeds"].items():
            for metric in ("pearson_r", "within_20_percent", "rmse", "within_group_r"):
                text, value = parser.cells[(key, col, metric)], over[metric]
                if key.endswith("baseline:mean") and metric in ("pearson_r", "within_group_r"):
                    assert text == "—"  # the r of one number per fold is undefined
                    shown += 1
                    continue
                assert text.split("±")[0].strip() == number(value["mean"], metric)
                if value["sd"] is not None:  # two seeds: the spread beside the mean
                    assert text.split("±")[1].strip() == number(value["sd"], metric)
                shown += 1
    assert shown == 3 * 4


def test_a_folder_missing_files_gets_its_page_and_says_what_is_missing(run, tmp_path):
    import shutil

    from sparsenet.report.html import write_html

    old = tmp_path / "old"
    shutil.copytree(run.out, old)
    (old / "results_grouped_baseline_ridge.csv").unlink()
    page = write_html(old)
    assert page.path == old / "report.html"
    assert any("results_grouped_baseline_ridge.csv" in line for line in page.missing)
    assert "data:image/png;base64," in page.path.read_text()  # the other models' panels are still drawn
    report = json.loads((old / "report.json").read_text())
    report["data"].pop("checks")
    (old / "report.json").write_text(json.dumps(report))
    assert any(line.startswith("Data checks: no data checks") for line in write_html(old).missing)

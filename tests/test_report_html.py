"""report.html, checked in a real browser (headless Chromium through Selenium): a small train run's page shows
every section, raises no console error, loads every image, fetches nothing beyond its own file, and shows for
every model the r, % within 20 % and RMSE that report.json holds. The screenshot is kept under
tests/artifacts/ (CI keeps it; docs/img/report.png is one taken from a real PRECISE run)."""

import json
import shutil
from pathlib import Path

import pytest

from conftest import FAST, ROOT, one_line_error, sparsenet
from synthetic import write_dataset

pytestmark = pytest.mark.slow  # a whole train run, then a browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "tests" / "artifacts"
SECTIONS = ["answer", "accuracy", "wiring", "run", "checks", "curves", "genes", "files"]


def browser():
    """Headless Chromium driven by chromedriver, its console and network logged; skipped, saying why, where
    either is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[test]')")
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.skip("no Chromium here: apt-get install chromium chromium-driver (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    expr, phen, _ = write_dataset(tmp / "data")
    out = tmp / "run"
    proc = sparsenet("train", "--expression", expr, "--phenotypes", phen, *FAST, "--seeds", "2", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


def shown(text: str) -> str:
    """The value a cell shows ('0.622 ± 0.008' -> '0.622')."""
    return text.split("±")[0].strip()


def test_the_report_opens_in_chromium_with_every_number_of_report_json(run_folder):
    from sparsenet.report.html import number

    page = run_folder / "report.html"
    report = json.loads((run_folder / "report.json").read_text())
    assert "report.html" in report["files"] and report["provenance"]["command"].startswith("sparsenet train")
    html = page.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html  # nothing to fetch, nothing run
    driver = browser()
    try:
        driver.get(page.as_uri())
        driver.execute_script("return document.fonts.ready")
        ARTIFACTS.mkdir(exist_ok=True)
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1280, min(int(height) + 100, 12000))
        driver.save_screenshot(str(ARTIFACTS / "report_train.png"))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"
        )
        assert len(images) >= 2 and all(ok and width > 0 and alt for ok, width, alt in images), images
        requests = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
        assert urls and all(u.startswith(("file://", "data:")) for u in urls), urls
        ids = driver.execute_script("return Array.from(document.querySelectorAll('section')).map(s => s.id)")
        assert ids == SECTIONS
        driver.set_window_size(1280, 900)  # the answer first: the accuracy section starts in the first 1,000 px
        top = driver.execute_script(
            "return document.getElementById('accuracy').getBoundingClientRect().top + window.scrollY"
        )
        assert top < 1000, top
        assert "{'" not in driver.find_element("tag name", "body").text  # no Python repr on the page
        cells = driver.execute_script("""
            return Array.from(document.querySelectorAll('tr[data-model]')).filter(r => r.dataset.phenotype)
              .map(r => [r.dataset.model, r.dataset.phenotype,
                         Object.fromEntries(Array.from(r.querySelectorAll('td[data-metric]'))
                           .map(c => [c.dataset.metric, c.innerText]))])""")
    finally:
        driver.quit()
    expected = {(key, col) for key, res in report["results"].items() for col in res["over_seeds"]}
    assert {(m, c) for m, c, _ in cells} == expected  # every model of report.json is on the page
    for model, col, values in cells:
        over = report["results"][model]["over_seeds"][col]
        for metric in ("pearson_r", "within_20_percent", "rmse"):
            if model.endswith("baseline:mean") and metric == "pearson_r":
                assert values[metric] == "—", model  # the r of one number per fold is undefined
                continue
            assert shown(values[metric]) == number(over[metric]["mean"], metric), (model, metric)
        if not model.endswith("baseline:mean"):
            assert "±" in values["pearson_r"]  # two network seeds: the spread is shown beside the mean


def test_report_command_rewrites_an_old_run_folder_and_names_what_is_missing(run_folder, tmp_path):
    """A run folder from before report.html (no page, no provenance, no training curves) gets its page back,
    with a line for each missing part; a folder that is not a run is one line."""
    old = tmp_path / "old"
    shutil.copytree(run_folder, old)
    (old / "report.html").unlink()
    (old / "training_curves.png").unlink()
    report = json.loads((old / "report.json").read_text())
    del report["provenance"], report["files"]["report.html"]
    (old / "report.json").write_text(json.dumps(report))
    proc = sparsenet("report", old)
    assert proc.returncode == 0, proc.stderr
    assert "missing: Training curves: training_curves.png: not in this run folder" in proc.stderr
    page = (old / "report.html").read_text()
    assert "not recorded (a run of an older sparsenet" in page and "data:image/png;base64," in page
    one_line_error(sparsenet("report", tmp_path / "nothing"), "no such run folder")
    (tmp_path / "empty").mkdir()
    one_line_error(sparsenet("report", tmp_path / "empty"), "no report.json, robustness.json or classification.json")

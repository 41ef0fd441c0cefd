"""Every Python example in the README and the docs runs as written (a fresh namespace each, in a
temporary folder); a block that needs what CI lacks says so in its first line ('# needs a GPU')."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every documented example run as written

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
SKIP = ("# needs a GPU", "# not run")


def blocks():
    for page in PAGES:
        for i, match in enumerate(re.finditer(r"```python\n(.*?)```", page.read_text(), flags=re.S)):
            code = match.group(1)
            yield pytest.param(
                code,
                id=f"{page.relative_to(ROOT)}:{i}",
                marks=[pytest.mark.skip(reason=code.splitlines()[0])] if code.startswith(SKIP) else [],
            )


@pytest.mark.parametrize("code", list(blocks()))
def test_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<example>", "exec"), {"__name__": "__example__"})


def test_every_page_is_in_the_docs_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert page.name in nav, f"{page.name} is not in mkdocs.yml's nav"
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150

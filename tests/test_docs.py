"""README and docs/ stand alone in a clone: every link points at a file of the project (and a heading in it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces as '-'."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_stays_inside_the_project(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "SPEC.md" not in text
    for target in LINK.findall(re.sub(r"`[^`]*`", "", text)):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside the project: {target}"
        assert resolved.exists(), f"{page.name} links a missing file: {target}"
        if anchor:
            assert anchor in _anchors(resolved), f"{page.name} links a missing heading: {target}"


def test_the_readme_links_every_page_of_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert {f"docs/{p.name}" for p in PAGES[1:]} <= set(LINK.findall(readme))

"""The README is a front door to docs/, and no link in either leads nowhere.

The README stays short (at most 200 lines) and links every page of docs/; every relative link
of README.md and docs/*.md names a file that exists and, with `#anchor`, a heading of that
file (GitHub's anchors: the heading in lower case, punctuation dropped, spaces as hyphens).
"""
import re
import subprocess
from pathlib import Path

import pytest

from bench.drills.__main__ import DRILLS
from tests.conftest import BASE_DIR

README = BASE_DIR / "README.md"
PAGES = sorted((BASE_DIR / "docs").glob("*.md"))
DOCUMENTS = [README, *PAGES]
FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def outside_code(path: Path) -> list[str]:
    """The file's lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the file's headings (a repeated one gets -1, -2, …)."""
    found: set[str] = set()
    for line in outside_code(path):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def relative_links(path: Path) -> list[str]:
    """Targets of the file's Markdown links and images outside code, other than URLs."""
    prose = [re.sub(r"`[^`]*`", "", line) for line in outside_code(path)]
    targets = [target for line in prose for target in LINK.findall(line)]
    return [target for target in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


def test_the_readme_is_a_front_door_of_at_most_200_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines"


def test_the_readme_links_every_page_of_docs():
    linked = {(README.parent / target.split("#")[0]).resolve() for target in relative_links(README)}
    missing = [page.name for page in PAGES if page.resolve() not in linked]
    assert PAGES and not missing, f"README.md does not link: {missing}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(path.relative_to(BASE_DIR)) for path in DOCUMENTS])
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(path):
    broken = []
    for target in relative_links(path):
        name, _, anchor = target.partition("#")
        file = (path.parent / name).resolve() if name else path
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading with that anchor in {file.relative_to(BASE_DIR)}")
    assert not broken, f"{path.relative_to(BASE_DIR)}: " + "; ".join(broken)


def test_the_link_checker_sees_a_broken_link_and_a_missing_anchor(tmp_path):
    """The checks above can fail: a link to a missing file and one to a missing heading."""
    (tmp_path / "a.md").write_text("# Title: the `first` one\n\n[ok](#title-the-first-one) [bad](b.md)\n"
                                   "[gone](#nowhere)\n```\n[in code](c.md)\n```\n")
    assert relative_links(tmp_path / "a.md") == ["#title-the-first-one", "b.md", "#nowhere"]
    assert anchors(tmp_path / "a.md") == {"title-the-first-one"}


def test_make_help_lists_every_drill_and_make_drill_knows_each():
    shown = subprocess.run(["make", "-s", "help"], cwd=BASE_DIR, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if line.startswith("make drill "))
    assert re.findall(r"[a-z]+(?:-[a-z]+)?", line.split(":", 1)[1]) == list(DRILLS)
    names = subprocess.run(["make", "-s", "--eval", "print-drills: ; @echo $(DRILL_NAMES)", "print-drills"],
                           cwd=BASE_DIR, capture_output=True, text=True, timeout=60)
    assert names.stdout.split() == list(DRILLS)


def test_the_api_reference_names_every_order_state_a_client_can_read():
    from orders.models import OrderState

    api = (BASE_DIR / "docs" / "api.md").read_text()

    assert [state.value for state in OrderState if f"`{state.value}`" not in api] == []
    assert "Undeliverable address (ZIP 00000)" in api  # the address check's ending, with no charge


def test_the_trace_schema_names_every_provider_role():
    from providers.steps import steps
    from workflows.api.trace import CallOutput

    text = CallOutput().fields["provider"].help_text

    assert "address" in steps()
    assert [role for role in (*steps(), "notification") if role not in text] == []

"""Template comments stay out of the page: Django's `{# … #}` ends on its own line, so a longer
note needs `{% comment %}`; otherwise its text is shown at the top of every page."""
import re
from pathlib import Path

from django.conf import settings
from django.test import Client

BASE_DIR = Path(settings.BASE_DIR)
# The project's templates and the apps' own.
TEMPLATES = [BASE_DIR / "templates", *sorted(BASE_DIR.glob("*/templates"))]


def test_no_template_comment_runs_past_its_line():
    unclosed = [f"{path.relative_to(BASE_DIR)}:{number}"
                for root in TEMPLATES for path in sorted(root.rglob("*")) if path.suffix in (".html", ".txt")
                for number, line in enumerate(path.read_text().splitlines(), 1)
                if re.search(r"\{#(?!.*#\})", line)]
    assert unclosed == []


def test_the_catalog_page_shows_no_template_comment(catalog):
    html = Client().get("/").content.decode()

    assert "{#" not in html and "#}" not in html

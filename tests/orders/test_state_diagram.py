"""docs/state-diagram.md is what the declared transitions draw (`manage.py order_diagram`)."""
from io import StringIO
from pathlib import Path

from django.core.management import call_command

from orders.states import TRANSITIONS

DIAGRAM = Path(__file__).resolve().parents[2] / "docs" / "state-diagram.md"


def test_the_committed_diagram_is_the_one_the_declaration_draws():
    out = StringIO()
    call_command("order_diagram", "--output", "-", stdout=out)
    assert DIAGRAM.read_text(encoding="utf-8") == out.getvalue(), (
        "docs/state-diagram.md is out of date: run `python manage.py order_diagram`"
    )


def test_every_transition_is_an_arrow_of_the_diagram():
    text = DIAGRAM.read_text(encoding="utf-8")
    for name, declared in TRANSITIONS.items():
        assert f"--> {declared.target}: {name}" in text

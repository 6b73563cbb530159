from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from orders.diagram import order_diagram

DEFAULT_PATH = Path(settings.BASE_DIR) / "docs" / "state-diagram.md"


class Command(BaseCommand):
    help = "Write the order's state diagram (Mermaid, from the declared transitions) to docs/state-diagram.md."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", default=str(DEFAULT_PATH), help="Where to write it ('-': standard output).")

    def handle(self, *args, output: str, **options) -> None:
        text = order_diagram()
        if output == "-":
            self.stdout.write(text, ending="")
            return
        Path(output).write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {output}")

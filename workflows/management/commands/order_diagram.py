"""`manage.py order_diagram [--output FILE] [--workflow-version N]`: the order's state diagram
(Mermaid, from the declared transitions) with what a workflow version's policy does in each
state: version 1, fixtures/workflow.yaml, by default (what docs/state-diagram.md holds: no
database needed); N, a stored version."""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows.policy.diagram import policy_diagram
from workflows.policy.selectors import FIRST, policy_default, policy_of
from workflows.policy.values import Policy

DEFAULT_PATH = Path(settings.BASE_DIR) / "docs" / "state-diagram.md"


class Command(BaseCommand):
    help = ("Write the order's state diagram (Mermaid, from the declared transitions) with a workflow version's "
            "policy to docs/state-diagram.md.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", default=str(DEFAULT_PATH), help="Where to write it ('-': standard output).")
        parser.add_argument("--workflow-version", type=int, metavar="N",
                            help="A stored version's policy (default: version 1, fixtures/workflow.yaml).")

    def handle(self, *args, output: str, workflow_version: int | None, **options) -> None:
        if workflow_version is None:
            policy, name = Policy(FIRST, policy_default()), "workflow version 1 (fixtures/workflow.yaml)"
        else:
            try:
                policy, name = policy_of(workflow_version), f"workflow version {workflow_version}"
            except LookupError as exc:
                raise CommandError(str(exc)) from exc
        text = policy_diagram(policy, name=name)
        if output == "-":
            self.stdout.write(text, ending="")
            return
        Path(output).write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {output}")

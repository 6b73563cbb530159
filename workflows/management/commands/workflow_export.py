"""`manage.py workflow_export [N] [--output FILE]`: write workflow version N (the current one by
default) as YAML, in the form of fixtures/workflow.yaml, so a shop can keep its policy in version
control. `workflow_import` reads it back."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflows.models import WorkflowVersion
from workflows.policy.selectors import version_current_number
from workflows.policy.services import version_yaml


class Command(BaseCommand):
    help = "Write a workflow version (the current one by default) as YAML."

    def add_arguments(self, parser):
        parser.add_argument("number", nargs="?", type=int, help="The version's number (default: the current one).")
        parser.add_argument("--draft", type=int, metavar="ID", help="Write draft ID instead of a published version.")
        parser.add_argument("--output", "-o", type=Path, help="The file to write (default: standard output).")

    def handle(self, *args, number: int | None, draft: int | None, output: Path | None, **options):
        if draft is not None:
            version = WorkflowVersion.objects.filter(pk=draft, status=WorkflowVersion.Status.DRAFT).first()
            missing = f"No draft {draft}."
        else:
            number = number or version_current_number()
            version = WorkflowVersion.objects.filter(number=number).first()
            missing = f"No workflow version {number}."
        if version is None:
            raise CommandError(missing)
        text = version_yaml(version)
        if output is None:
            self.stdout.write(text, ending="")
        else:
            output.write_text(text)
            self.stderr.write(f"{version} written to {output}.")

"""`manage.py workflow_import FILE [--note TEXT] [--publish]`: a draft workflow version from a YAML
file (the form `workflow_export` writes and fixtures/workflow.yaml has), checked as the admin and
the API check a draft; published at once with --publish. An invalid file writes nothing and
names every wrong value by its path; a file that cannot be read (missing, not UTF-8), is not
YAML or holds no policy (empty, comments only) is refused the same way. A pipeline step the file
lacks whole (exported before the step existed) takes fixtures/workflow.yaml's values, and the
output says so."""
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from store.errors import DomainError
from workflows.policy.services import version_import


class Command(BaseCommand):
    help = "Make a draft workflow version from a YAML file (and publish it with --publish)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=str, help="The YAML file ('-': standard input).")
        parser.add_argument("--note", default="", help="What the version changes, and why.")
        parser.add_argument("--publish", action="store_true", help="Publish it: new orders run on it.")

    def handle(self, *args, file: str, note: str, publish: bool, **options):
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}; nothing was saved.") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text (byte {exc.start}); nothing was saved.") from exc
        try:
            imported = version_import(text=text, actor=None, note=note or f"Imported from {Path(file).name}",
                                     publish=publish)
        except ValidationError as exc:
            problems = "\n".join(f"  {path}: {' '.join(messages)}" for path, messages in exc.message_dict.items())
            raise CommandError(f"{file} is not a valid workflow version; nothing was saved:\n{problems}") from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        version = imported.version
        if imported.filled:
            names = ", ".join(f"steps.{name}" for name in imported.filled)
            self.stdout.write(self.style.WARNING(
                f"{file} has no {names} (it was exported before the step existed): filled with "
                "fixtures/workflow.yaml's values, as stored versions of that age run."))
        if publish:
            self.stdout.write(self.style.SUCCESS(f"Published as version {version.number}: new orders run on it."))
        else:
            self.stdout.write(f"Draft {version.pk} created; publish it in the admin or with "
                              f"POST /api/workflow/versions/{version.pk}/publish.")

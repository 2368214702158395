"""Mirror the MLflow Model Registry into ModelVersion rows (versions, aliases, scores, run links)."""

from django.core.management.base import BaseCommand

from modelops.selectors import model_version_list
from modelops.services import model_version_sync


class Command(BaseCommand):
    help = "Copy every registry version and alias into ModelVersion; the champion becomes the current version."

    def handle(self, *args, **options):
        for version in model_version_sync():
            self.stdout.write(f"mirrored {version.version_name} ({version.source})")
        for version in model_version_list():
            aliases = ",".join(version.aliases) or "-"
            self.stdout.write(f"{'*' if version.is_current else ' '} {version.version_name}: aliases {aliases}")

"""Register the bundled models (and T2I_MODEL_PATHS names) as model versions; on a fresh install the default one
becomes registry version 1 with alias `champion`."""

from django.conf import settings
from django.core.management.base import BaseCommand

from modelops.selectors import model_version_list
from modelops.services import model_version_bootstrap


class Command(BaseCommand):
    help = "Create ModelVersion rows for bundled models; --demo-fallback registers an untrained one if none exist."

    def add_arguments(self, parser):
        parser.add_argument("--demo-fallback", action="store_true")

    def handle(self, *args, demo_fallback: bool, **options):
        fallback = str(settings.VAR_DIR / "models" / "untrained-demo") if demo_fallback else None
        created = model_version_bootstrap(demo_fallback_dir=fallback)
        for version in created:
            self.stdout.write(f"registered model version {version.version_name} ({version.source})")
        for version in model_version_list():
            marker = "*" if version.is_current else " "
            registry = (
                f", registry v{version.registry_version} {','.join(version.aliases)}" if version.is_registered else ""
            )
            self.stdout.write(
                f"{marker} {version.version_name}: {version.sizes_label}, {version.sampler_name}{registry}"
            )
